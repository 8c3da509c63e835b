/*
 * reloc-x86-64.c: what each x86-64 relocation type in a relocatable object means
 * (System V psABI, x86-64 supplement, table "Relocation Types").
 *
 * In the psABI's words: S is the symbol's value, A the addend, P the address of
 * the field, G the offset of the symbol's GOT entry, L its PLT entry. The differ
 * needs the width of the field (to mask it when comparing bytes) and whether the
 * value is PC-relative (to know where a section-relative reference points); the
 * linker needs the kind to resolve it. Types only a dynamic linker sees (COPY,
 * GLOB_DAT, JUMP_SLOT, RELATIVE, IRELATIVE) never appear in a .o and are unknown
 * here, so a file holding them is refused.
 */
#include "formats/elfread.h"

#define R(name, width, kind, sgn) { "R_X86_64_" #name, width, kind, sgn }

static const struct reloc_info table[] = {
	[0] = R(NONE, 0, RELOC_NONE, false),
	[1] = R(64, 8, RELOC_ABS, false),           /* S + A */
	[2] = R(PC32, 4, RELOC_PCREL, true),        /* S + A - P */
	[3] = R(GOT32, 4, RELOC_OTHER, true),       /* G + A */
	[4] = R(PLT32, 4, RELOC_PLT, true),         /* L + A - P */
	[9] = R(GOTPCREL, 4, RELOC_GOTPCREL, true), /* G + GOT + A - P */
	[10] = R(32, 4, RELOC_ABS, false),          /* S + A, zero-extended */
	[11] = R(32S, 4, RELOC_ABS, true),          /* S + A, sign-extended */
	[12] = R(16, 2, RELOC_ABS, false),
	[13] = R(PC16, 2, RELOC_PCREL, true),
	[14] = R(8, 1, RELOC_ABS, false),
	[15] = R(PC8, 1, RELOC_PCREL, true),
	[16] = R(DTPMOD64, 8, RELOC_TLS, false),
	[17] = R(DTPOFF64, 8, RELOC_TLS, false),
	[18] = R(TPOFF64, 8, RELOC_TLS, false),
	[19] = R(TLSGD, 4, RELOC_TLS, true),
	[20] = R(TLSLD, 4, RELOC_TLS, true),
	[21] = R(DTPOFF32, 4, RELOC_TLS, true),
	[22] = R(GOTTPOFF, 4, RELOC_TLS, true),
	[23] = R(TPOFF32, 4, RELOC_TLS, true),
	[24] = R(PC64, 8, RELOC_PCREL, false),      /* S + A - P */
	[25] = R(GOTOFF64, 8, RELOC_OTHER, false),  /* S + A - GOT */
	[26] = R(GOTPC32, 4, RELOC_OTHER, true),    /* GOT + A - P */
	[27] = R(GOT64, 8, RELOC_OTHER, false),
	[28] = R(GOTPCREL64, 8, RELOC_OTHER, false),
	[29] = R(GOTPC64, 8, RELOC_OTHER, false),
	[30] = R(GOTPLT64, 8, RELOC_OTHER, false),
	[31] = R(PLTOFF64, 8, RELOC_OTHER, false),
	[32] = R(SIZE32, 4, RELOC_OTHER, false),    /* Z + A */
	[33] = R(SIZE64, 8, RELOC_OTHER, false),
	[34] = R(GOTPC32_TLSDESC, 4, RELOC_TLS, true),
	[35] = R(TLSDESC_CALL, 0, RELOC_TLS, false), /* marks the call; no field */
	[41] = R(GOTPCRELX, 4, RELOC_GOTPCREL, true),     /* GOTPCREL, relaxable */
	[42] = R(REX_GOTPCRELX, 4, RELOC_GOTPCREL, true), /* GOTPCREL with REX, relaxable */
};

const struct reloc_info *reloc_x86_64_info(uint32_t type)
{
	if (type >= sizeof table / sizeof table[0] || !table[type].name)
		return NULL;
	return &table[type];
}
