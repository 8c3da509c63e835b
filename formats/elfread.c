/*
 * elfread.c: pass 1, read an ELF64 x86-64 relocatable object into struct obj.
 *
 * libelf maps the file and translates headers; everything it hands back is
 * checked again here before use, because objects come from any build:
 *   - every section's [sh_offset, sh_offset + sh_size) lies inside the file;
 *   - tables have the entry size their type requires (never divide by zero);
 *   - every symbol's section index, name offset and [value, value + size)
 *     are inside what they point into;
 *   - every relocation's symbol index exists and its patched field
 *     [r_offset, r_offset + width) lies inside the section it applies to.
 * A failed check gives one diagnostic "path: what is wrong" and -HP_ECORRUPT.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/elfread.h"

struct obj_elf {
	int fd;
	Elf *elf;
	Elf_Data **rela_data; /* per section index: translated RELA data, for lazy loads */
};

/* Section names for messages: "section 12 '.rela.text.foo'". */
static const char *secdesc(struct hp_ctx *ctx, const struct obj_sec *s)
{
	const char *d = hp_arena_printf(ctx, "section %u '%s'", s->index, s->name);
	return d ? d : "section";
}

/*
 * Inflate a compressed debug section (-gz) in memory, after checking what its
 * header declares: zlib, and a size that deflate can reach from the bytes
 * present (at most 1032:1) within what is left of the object's budget. libelf
 * allocates the declared size before inflating, so the check comes first.
 */
static int inflate_section(struct hp_ctx *ctx, struct obj *obj, struct obj_sec *s, Elf_Scn *scn,
			   uint64_t *budget)
{
	GElf_Chdr ch;
	if (!gelf_getchdr(scn, &ch))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: compression header unreadable (%s); the file is corrupt",
			      secdesc(ctx, s), elf_errmsg(-1));
	if (ch.ch_type != ELFCOMPRESS_ZLIB)
		return hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
			      "%s: compression type %u is not zlib", secdesc(ctx, s), ch.ch_type);
	if (ch.ch_size / 1032 > s->size || ch.ch_size > *budget)
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: declares %llu bytes once inflated from %llu, more than zlib can give or than the %u MiB an object may inflate to",
			      secdesc(ctx, s), (unsigned long long)ch.ch_size,
			      (unsigned long long)s->size, OBJ_MAX_INFLATED >> 20);
	*budget -= ch.ch_size;
	if (elf_compress(scn, 0, 0) < 0)
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL, "%s: cannot decompress (%s)",
			      secdesc(ctx, s), elf_errmsg(-1));
	return 0;
}

static int read_sections(struct hp_ctx *ctx, struct obj *obj)
{
	uint64_t budget = OBJ_MAX_INFLATED;
	Elf *elf = obj->elf->elf;
	size_t n, shstrndx;
	if (elf_getshdrnum(elf, &n) || elf_getshdrstrndx(elf, &shstrndx))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "section header table unreadable (%s); the file is corrupt",
			      elf_errmsg(-1));
	if (n == 0)
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL, "no sections; the file is corrupt");
	if (n > (1u << 24))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%zu sections; the file is corrupt or hostile", n);
	obj->nsecs = n;
	obj->secs = hp_arena_array(ctx, n, sizeof *obj->secs);
	obj->elf->rela_data = hp_arena_array(ctx, n, sizeof *obj->elf->rela_data);
	if (!obj->secs || !obj->elf->rela_data)
		return hp_nomem(ctx);

	for (size_t i = 0; i < n; i++) {
		struct obj_sec *s = &obj->secs[i];
		Elf_Scn *scn = elf_getscn(elf, i);
		GElf_Shdr sh;
		s->index = (uint32_t)i;
		s->name = "";
		if (!scn || !gelf_getshdr(scn, &sh))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "section %zu: header unreadable; the file is corrupt", i);
		if (i == 0)
			continue;
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "section %zu: name outside the string table; the file is corrupt",
				      i);
		s->name = name;
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->size = sh.sh_size;
		s->align = sh.sh_addralign;
		s->entsize = sh.sh_entsize;
		s->link = sh.sh_link;
		s->info = sh.sh_info;
		/* Alignments are powers of two (gABI); the linker rounds with them. */
		if (s->align & (s->align - 1))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: sh_addralign %llu is not a power of two; the file is corrupt",
				      secdesc(ctx, s), (unsigned long long)s->align);
		if (s->type == SHT_NOBITS || s->type == SHT_NULL)
			continue;
		if (!hp_range_ok(sh.sh_offset, sh.sh_size, obj->file_size))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: bytes [%#llx, +%#llx) lie past the end of the file (%llu bytes); the file is corrupt",
				      secdesc(ctx, s), (unsigned long long)sh.sh_offset,
				      (unsigned long long)sh.sh_size, (unsigned long long)obj->file_size);
		if (s->flags & SHF_COMPRESSED) {
			if (s->flags & SHF_ALLOC)
				return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
					      "%s: allocated section is compressed; the file is corrupt",
					      secdesc(ctx, s));
			/* Compressed debug info (-gz): inflate it in memory. */
			int err = inflate_section(ctx, obj, s, scn, &budget);
			if (err < 0)
				return err;
			if (!gelf_getshdr(scn, &sh))
				return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "section %zu: header unreadable; the file is corrupt", i);
			s->size = sh.sh_size;
		}
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL, "%s: data unreadable (%s)",
				      secdesc(ctx, s), elf_errmsg(-1));
		if (d->d_size != s->size || (s->size && !d->d_buf))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: data size %zu does not match sh_size %llu; the file is corrupt",
				      secdesc(ctx, s), d->d_size, (unsigned long long)s->size);
		s->data = d->d_buf;
		if (s->type == SHT_RELA)
			obj->elf->rela_data[i] = d;
	}
	return 0;
}

static int read_symbols(struct hp_ctx *ctx, struct obj *obj)
{
	struct obj_sec *symtab = NULL, *shndx_sec = NULL;
	for (size_t i = 1; i < obj->nsecs; i++) {
		struct obj_sec *s = &obj->secs[i];
		if (s->type == SHT_SYMTAB) {
			if (symtab)
				return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
					      "two symbol tables (sections %u and %u); the file is corrupt",
					      symtab->index, s->index);
			symtab = s;
		} else if (s->type == SHT_SYMTAB_SHNDX) {
			shndx_sec = s;
		}
	}
	if (!symtab)
		return hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
			      "no symbol table; was the object stripped?");
	if (symtab->entsize != sizeof(Elf64_Sym))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: sh_entsize is %llu, not %zu; the file is corrupt",
			      secdesc(ctx, symtab), (unsigned long long)symtab->entsize,
			      sizeof(Elf64_Sym));
	if (symtab->size % sizeof(Elf64_Sym) || symtab->size == 0)
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: size %llu is not a whole number of symbols; the file is corrupt",
			      secdesc(ctx, symtab), (unsigned long long)symtab->size);
	if (symtab->link == 0 || symtab->link >= obj->nsecs ||
	    obj->secs[symtab->link].type != SHT_STRTAB)
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: sh_link %u is not a string table; the file is corrupt",
			      secdesc(ctx, symtab), symtab->link);
	obj->symtab = symtab;

	size_t n = symtab->size / sizeof(Elf64_Sym);
	const Elf64_Sym *raw = (const Elf64_Sym *)symtab->data;
	const uint32_t *xndx = NULL;
	if (shndx_sec) {
		if (shndx_sec->size / 4 < n || shndx_sec->link != symtab->index)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: does not cover the symbol table; the file is corrupt",
				      secdesc(ctx, shndx_sec));
		xndx = (const uint32_t *)shndx_sec->data;
	}
	const struct obj_sec *strtab = &obj->secs[symtab->link];
	obj->nsyms = n;
	obj->syms = hp_arena_array(ctx, n, sizeof *obj->syms);
	if (!obj->syms)
		return hp_nomem(ctx);

	const char *file = NULL;
	for (size_t i = 0; i < n; i++) {
		struct obj_sym *s = &obj->syms[i];
		const Elf64_Sym *e = &raw[i];
		s->index = (uint32_t)i;
		s->name = "";
		if (i == 0)
			continue;
		if (e->st_name >= strtab->size ||
		    !memchr(strtab->data + e->st_name, 0, strtab->size - e->st_name))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "symbol %zu: name offset %u outside the string table; the file is corrupt",
				      i, e->st_name);
		s->name = (const char *)strtab->data + e->st_name;
		s->type = GELF_ST_TYPE(e->st_info);
		s->bind = GELF_ST_BIND(e->st_info);
		s->visibility = GELF_ST_VISIBILITY(e->st_other);
		s->value = e->st_value;
		s->size = e->st_size;
		s->shndx = e->st_shndx;
		if (e->st_shndx == SHN_XINDEX) {
			if (!xndx)
				return hp_err(ctx, HP_ECORRUPT, obj->path, s->name,
					      "SHN_XINDEX without SHT_SYMTAB_SHNDX; the file is corrupt");
			s->shndx = xndx[i];
		}
		if (s->type == STT_FILE) {
			file = s->name;
			continue;
		}
		if (s->bind == STB_LOCAL)
			s->file = file;
		if (s->shndx == SHN_UNDEF || (e->st_shndx != SHN_XINDEX && s->shndx >= SHN_LORESERVE))
			continue; /* undefined, absolute or common */
		if (s->shndx >= obj->nsecs)
			return hp_err(ctx, HP_ECORRUPT, obj->path, s->name[0] ? s->name : NULL,
				      "symbol %zu: section index %u out of range (%zu sections); the file is corrupt",
				      i, s->shndx, obj->nsecs);
		s->sec = &obj->secs[s->shndx];
		/* Assemblers keep local labels in merge sections so the linker can
		 * merge what they point at: gcc's ".LC0" (NOTYPE), clang's ".L.str.3"
		 * (OBJECT, with a size). Neither is an entity of the program. */
		s->label = s->type == STT_SECTION ||
			   (s->bind == STB_LOCAL &&
			    (s->type == STT_NOTYPE || !strncmp(s->name, ".L", 2)));
		if (s->type == STT_SECTION) {
			s->name = s->sec->name;
			if (!s->sec->secsym)
				s->sec->secsym = s;
			continue;
		}
		if ((s->type == STT_FUNC || s->type == STT_OBJECT || s->type == STT_TLS) &&
		    !hp_range_ok(s->value, s->size, s->sec->size))
			return hp_err(ctx, HP_ECORRUPT, obj->path, s->name,
				      "[%#llx, +%#llx) lies outside %s (%llu bytes); the file is corrupt",
				      (unsigned long long)s->value, (unsigned long long)s->size,
				      secdesc(ctx, s->sec), (unsigned long long)s->sec->size);
	}
	return 0;
}

static int cmp_rel(const void *a, const void *b)
{
	const struct obj_rel *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Read the RELA section rs into the section it applies to. */
static int read_rela(struct hp_ctx *ctx, struct obj *obj, struct obj_sec *rs)
{
	struct obj_sec *target = &obj->secs[rs->info];
	if (rs->entsize != sizeof(Elf64_Rela))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: sh_entsize is %llu, not %zu; the file is corrupt", secdesc(ctx, rs),
			      (unsigned long long)rs->entsize, sizeof(Elf64_Rela));
	if (rs->size % sizeof(Elf64_Rela))
		return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
			      "%s: size %llu is not a whole number of entries; the file is corrupt",
			      secdesc(ctx, rs), (unsigned long long)rs->size);
	size_t n = rs->size / sizeof(Elf64_Rela);
	const Elf64_Rela *raw = (const Elf64_Rela *)rs->data;
	struct obj_rel *rels = hp_arena_array(ctx, n, sizeof *rels);
	if (!rels)
		return hp_nomem(ctx);
	bool sorted = true;
	for (size_t i = 0; i < n; i++) {
		uint64_t symi = GELF_R_SYM(raw[i].r_info);
		uint32_t type = (uint32_t)GELF_R_TYPE(raw[i].r_info);
		if (symi >= obj->nsyms)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: entry %zu: symbol index %llu out of range; the file is corrupt",
				      secdesc(ctx, rs), i, (unsigned long long)symi);
		const struct reloc_info *ri = reloc_x86_64_info(type);
		if (!ri)
			return hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
				      "%s: entry %zu: unknown relocation type %u", secdesc(ctx, rs), i,
				      type);
		if (!hp_range_ok(raw[i].r_offset, ri->width, target->size))
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: entry %zu: %s at %#llx lies outside %s; the file is corrupt",
				      secdesc(ctx, rs), i, ri->name,
				      (unsigned long long)raw[i].r_offset, secdesc(ctx, target));
		rels[i] = (struct obj_rel){ raw[i].r_offset, type, raw[i].r_addend,
					    &obj->syms[symi], -1, false };
		if (i && rels[i].offset < rels[i - 1].offset)
			sorted = false;
	}
	if (!sorted)
		qsort(rels, n, sizeof *rels, cmp_rel);
	/* Two relocations filling the same bytes: no assembler writes that, and
	 * what ends up there would depend on the order they are applied in. */
	for (size_t i = 1; i < n; i++) {
		unsigned w = reloc_x86_64_info(rels[i - 1].type)->width;
		if (w && reloc_x86_64_info(rels[i].type)->width &&
		    rels[i].offset - rels[i - 1].offset < w)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: relocations at %#llx and %#llx fill the same bytes; the file is corrupt",
				      secdesc(ctx, rs), (unsigned long long)rels[i - 1].offset,
				      (unsigned long long)rels[i].offset);
	}
	target->rels = rels;
	target->nrels = n;
	target->rels_loaded = true;
	return 0;
}

static int read_relocations(struct hp_ctx *ctx, struct obj *obj)
{
	for (size_t i = 1; i < obj->nsecs; i++) {
		struct obj_sec *rs = &obj->secs[i];
		if (rs->type == SHT_REL)
			return hp_err(ctx, HP_EUNSUPPORTED, obj->path, NULL,
				      "%s: SHT_REL relocations are not used on x86-64",
				      secdesc(ctx, rs));
		if (rs->type != SHT_RELA)
			continue;
		if (rs->info == 0 || rs->info >= obj->nsecs)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: sh_info %u names no section; the file is corrupt",
				      secdesc(ctx, rs), rs->info);
		if (rs->link != obj->symtab->index)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: sh_link %u is not the symbol table; the file is corrupt",
				      secdesc(ctx, rs), rs->link);
		struct obj_sec *target = &obj->secs[rs->info];
		if (target->relsec)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: a second relocation section for %s; the file is corrupt",
				      secdesc(ctx, rs), secdesc(ctx, target));
		target->relsec = rs;
		if (target->type == SHT_NOBITS)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: relocates %s, which has no bytes; the file is corrupt",
				      secdesc(ctx, rs), secdesc(ctx, target));
		/* Debug info is read only when DWARF is needed. */
		if (!obj_sec_is_alloc(target))
			continue;
		int err = read_rela(ctx, obj, rs);
		if (err < 0)
			return err;
	}
	return 0;
}

int obj_load_rels(struct hp_ctx *ctx, struct obj *obj, struct obj_sec *sec)
{
	if (sec->rels_loaded || !sec->relsec)
		return 0;
	return read_rela(ctx, obj, sec->relsec);
}

static int read_groups(struct hp_ctx *ctx, struct obj *obj)
{
	for (size_t i = 1; i < obj->nsecs; i++) {
		struct obj_sec *g = &obj->secs[i];
		if (g->type != SHT_GROUP)
			continue;
		if (g->size % 4 || g->size < 4)
			return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
				      "%s: size %llu is not a group; the file is corrupt",
				      secdesc(ctx, g), (unsigned long long)g->size);
		for (uint64_t off = 4; off < g->size; off += 4) {
			uint32_t m = hp_load_le32(g->data + off);
			if (m == 0 || m >= obj->nsecs)
				return hp_err(ctx, HP_ECORRUPT, obj->path, NULL,
					      "%s: member %u out of range; the file is corrupt",
					      secdesc(ctx, g), m);
			obj->secs[m].group = g;
		}
	}
	return 0;
}

/* A fresh obj for path (a file name, or the name a buffer goes by in messages). */
static struct obj *new_obj(struct hp_ctx *ctx, const char *path)
{
	struct obj *obj = hp_arena_alloc(ctx, sizeof *obj);
	struct obj_elf *oe = hp_arena_alloc(ctx, sizeof *oe);
	if (!obj || !oe || !(obj->path = hp_arena_strdup(ctx, path)))
		return NULL;
	obj->elf = oe;
	oe->fd = -1;
	return obj;
}

/* The first EI_NIDENT bytes: ELF, 64-bit, little-endian. */
static int check_ident(struct hp_ctx *ctx, const char *path, const unsigned char *ident, size_t n)
{
	if (n < EI_NIDENT || memcmp(ident, ELFMAG, SELFMAG))
		return hp_err(ctx, HP_ECORRUPT, path, NULL, "not an ELF file");
	if (ident[EI_CLASS] != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB)
		return hp_err(ctx, HP_EUNSUPPORTED, path, NULL,
			      "not a 64-bit little-endian ELF file; only x86-64 objects are supported");
	return 0;
}

/* Everything after libelf has the file open (obj->elf->elf): the passes of the reader. */
static int read_opened(struct hp_ctx *ctx, struct obj *obj)
{
	const char *path = obj->path;
	struct obj_elf *oe = obj->elf;
	int err;
	if (!oe->elf || elf_kind(oe->elf) != ELF_K_ELF)
		return hp_err(ctx, HP_ECORRUPT, path, NULL, "not a readable ELF file (%s)",
			      elf_errmsg(-1));
	GElf_Ehdr eh;
	if (!gelf_getehdr(oe->elf, &eh))
		return hp_err(ctx, HP_ECORRUPT, path, NULL, "ELF header unreadable (%s)",
			      elf_errmsg(-1));
	if (eh.e_type != ET_REL)
		return hp_err(ctx, HP_EUNSUPPORTED, path, NULL,
			      "not a relocatable object (e_type %u); give the .o files of the build",
			      eh.e_type);
	if (eh.e_machine != EM_X86_64)
		return hp_err(ctx, HP_EUNSUPPORTED, path, NULL,
			      "machine %u is not x86-64; only x86-64 objects are supported",
			      eh.e_machine);
	obj->machine = eh.e_machine;
	if ((err = read_sections(ctx, obj)) < 0 || (err = read_symbols(ctx, obj)) < 0 ||
	    (err = read_relocations(ctx, obj)) < 0 || (err = read_groups(ctx, obj)) < 0 ||
	    (err = obj_index(ctx, obj)) < 0)
		return err;
	return 0;
}

int obj_read_elf(struct hp_ctx *ctx, const char *path, struct obj **out)
{
	int err;
	*out = NULL;
	struct obj *obj = new_obj(ctx, path);
	if (!obj)
		return hp_nomem(ctx);
	struct obj_elf *oe = obj->elf;
	oe->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (oe->fd < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(oe->fd, &st) < 0) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = hp_err(ctx, HP_ERROR, path, NULL, "not a regular file");
		goto fail;
	}
	obj->file_size = (uint64_t)st.st_size;

	unsigned char ident[EI_NIDENT];
	ssize_t got = pread(oe->fd, ident, sizeof ident, 0);
	if ((err = check_ident(ctx, path, ident, got < 0 ? 0 : (size_t)got)) < 0)
		goto fail;
	elf_version(EV_CURRENT);
	oe->elf = elf_begin(oe->fd, ELF_C_READ_MMAP, NULL);
	if ((err = read_opened(ctx, obj)) < 0)
		goto fail;
	*out = obj;
	return 0;
fail:
	obj_free(obj);
	return err;
}

int obj_read_elf_mem(struct hp_ctx *ctx, const char *name, const uint8_t *buf, size_t len,
		     struct obj **out)
{
	int err;
	*out = NULL;
	struct obj *obj = new_obj(ctx, name);
	if (!obj)
		return hp_nomem(ctx);
	obj->file_size = len;
	if ((err = check_ident(ctx, name, buf, len)) < 0)
		goto fail;
	elf_version(EV_CURRENT);
	/* libelf takes a char *, but only reads a native-endian file in place. */
	obj->elf->elf = elf_memory((char *)buf, len);
	if ((err = read_opened(ctx, obj)) < 0)
		goto fail;
	*out = obj;
	return 0;
fail:
	obj_free(obj);
	return err;
}

void obj_free(struct obj *obj)
{
	if (!obj || !obj->elf)
		return;
	/* The DWARF reader reads section bytes that libelf owns: close it first. */
	if (obj->dwarf && obj->dwarf_close)
		obj->dwarf_close(obj->dwarf);
	obj->dwarf = NULL;
	if (obj->elf->elf)
		elf_end(obj->elf->elf);
	if (obj->elf->fd >= 0)
		close(obj->elf->fd);
	obj->elf->elf = NULL;
	obj->elf->fd = -1;
	obj->elf = NULL;
}
