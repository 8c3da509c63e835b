/*
 * elfimage.c: read a linked x86-64 image, executable or shared library, for
 * what patching it needs: its GNU build-id, its PT_LOAD segments (to find the
 * bytes at a virtual address) and its symbols, locals attributed to the
 * STT_FILE they follow as the static linker kept them.
 *
 * hpbuild --target uses it to check that the old objects are the ones linked
 * into the binary; the applier uses it on the images mapped in a process.
 * Like elfread.c, it checks every offset and size before use.
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
};

/* Notes: namesz:u32 descsz:u32 type:u32 name (4-aligned) desc (4-aligned). */
static void find_build_id(struct image *img, const uint8_t *p, uint64_t n)
{
	uint64_t at = 0;
	while (n - at >= 12) {
		uint32_t namesz = hp_load_le32(p + at), descsz = hp_load_le32(p + at + 4);
		uint32_t type = hp_load_le32(p + at + 8);
		uint64_t name_at = at + 12;
		uint64_t desc_at = name_at + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_at + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_at > n || next > n)
			return;
		if (type == 3 /* NT_GNU_BUILD_ID */ && namesz == 4 && !memcmp(p + name_at, "GNU", 4) &&
		    descsz > 0 && descsz <= sizeof img->build_id) {
			memcpy(img->build_id, p + desc_at, descsz);
			img->build_id_size = descsz;
			return;
		}
		at = next;
	}
}

/* The .gnu.version entries of the dynamic symbols (one u16 each), or NULL. */
static const uint16_t *versyms(struct image *img, size_t nsyms)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(img->elf->elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_GNU_versym)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (d && d->d_size == sh.sh_size && sh.sh_size / 2 >= nsyms)
			return d->d_buf;
	}
	return NULL;
}

static int read_syms(struct hp_ctx *ctx, struct image *img, Elf_Scn *scn, const GElf_Shdr *sh,
		     bool dynamic, size_t *at)
{
	Elf *elf = img->elf->elf;
	if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_size % sizeof(Elf64_Sym))
		return hp_err(ctx, HP_ECORRUPT, img->path, NULL,
			      "symbol table entry size %llu; the file is corrupt",
			      (unsigned long long)sh->sh_entsize);
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || d->d_size != sh->sh_size)
		return hp_err(ctx, HP_ECORRUPT, img->path, NULL, "symbol table unreadable");
	size_t n = sh->sh_size / sizeof(Elf64_Sym);
	const uint16_t *ver = dynamic ? versyms(img, n) : NULL;
	const char *file = NULL;
	uint32_t file_seq = 0;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym s;
		if (!gelf_getsym(d, (int)i, &s))
			return hp_err(ctx, HP_ECORRUPT, img->path, NULL, "symbol %zu unreadable", i);
		const char *name = elf_strptr(elf, sh->sh_link, s.st_name);
		if (!name)
			return hp_err(ctx, HP_ECORRUPT, img->path, NULL,
				      "symbol %zu: name outside the string table; the file is corrupt",
				      i);
		uint8_t type = GELF_ST_TYPE(s.st_info), bind = GELF_ST_BIND(s.st_info);
		if (type == STT_FILE) {
			file = name;
			file_seq++;
			continue;
		}
		if (s.st_shndx == SHN_UNDEF || !name[0] || type == STT_SECTION)
			continue;
		struct image_sym *is = &img->syms[(*at)++];
		is->name = name;
		is->file = bind == STB_LOCAL ? file : NULL;
		is->file_seq = file_seq;
		is->type = type;
		is->bind = bind;
		is->shndx = s.st_shndx;
		is->value = s.st_value;
		is->size = s.st_size;
		is->dynamic = dynamic;
		is->hidden = ver && (ver[i] & 0x8000);
	}
	return 0;
}

/*
 * The slots of the GOT that the dynamic linker fills by symbol name: JUMP_SLOT
 * (.rela.plt), GLOB_DAT and 64 (.rela.dyn) against .dynsym.
 */
static int read_gots(struct hp_ctx *ctx, struct image *img)
{
	Elf *elf = img->elf->elf;
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
				continue;
			Elf_Scn *symscn = elf_getscn(elf, sh.sh_link);
			GElf_Shdr ssh;
			if (!symscn || !gelf_getshdr(symscn, &ssh) || ssh.sh_type != SHT_DYNSYM)
				continue;
			Elf_Data *d = elf_getdata(scn, NULL), *sd = elf_getdata(symscn, NULL);
			if (!d || !sd)
				continue;
			size_t n = d->d_size / sizeof(Elf64_Rela);
			for (size_t i = 0; i < n; i++) {
				GElf_Rela r;
				GElf_Sym sym;
				if (!gelf_getrela(d, (int)i, &r))
					return hp_err(ctx, HP_ECORRUPT, img->path, NULL,
						      "dynamic relocation %zu unreadable", i);
				uint32_t type = (uint32_t)GELF_R_TYPE(r.r_info);
				bool tls = type == R_X86_64_TPOFF64 || type == R_X86_64_DTPMOD64 ||
					   type == R_X86_64_DTPOFF64;
				if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT &&
				    type != R_X86_64_64 && !tls)
					continue;
				const char *name = "";
				if (GELF_R_SYM(r.r_info)) {
					if (!gelf_getsym(sd, (int)GELF_R_SYM(r.r_info), &sym) ||
					    !(name = elf_strptr(elf, ssh.sh_link, sym.st_name)))
						continue;
				} else if (type != R_X86_64_DTPMOD64) {
					continue; /* only the module's own id comes without a symbol */
				}
				if (!*name && type != R_X86_64_DTPMOD64)
					continue;
				if (pass == 1)
					img->gots[img->ngots++] = (struct image_got){
						name, r.r_offset, type == R_X86_64_JUMP_SLOT,
						tls ? (uint8_t)type : 0
					};
				else
					total++;
			}
		}
		if (pass == 0 && total) {
			img->gots = hp_arena_array(ctx, total, sizeof *img->gots);
			if (!img->gots)
				return hp_nomem(ctx);
		}
		if (!total)
			break;
	}
	return 0;
}

const struct image_got *image_find_got(const struct image *img, const char *name)
{
	/* Prefer the PLT slot: it exists for every function the image calls. */
	const struct image_got *any = NULL;
	for (size_t i = 0; i < img->ngots; i++)
		if (!img->gots[i].tls && !strcmp(img->gots[i].name, name)) {
			if (img->gots[i].plt)
				return &img->gots[i];
			any = any ? any : &img->gots[i];
		}
	return any;
}

const struct image_got *image_find_tls_got(const struct image *img, const char *name,
					   uint8_t type)
{
	for (size_t i = 0; i < img->ngots; i++)
		if (img->gots[i].tls == type && !strcmp(img->gots[i].name, name))
			return &img->gots[i];
	return NULL;
}

/*
 * glibc places the executable's TLS block first, ending at the thread pointer,
 * at roundup(memsz - firstbyte, align) + firstbyte below it, where firstbyte is
 * how far p_vaddr is from alignment (ld aligns it: 0); ld computes the
 * local-exec offsets it writes into the executable the same way.
 */
bool image_tpoff(const struct image *img, uint64_t st_value, int64_t *out)
{
	if (!img->has_tls)
		return false;
	uint64_t align = img->tls_align ? img->tls_align : 1;
	uint64_t first = (0 - img->tls_vaddr) & (align - 1);
	uint64_t block = (img->tls_memsz - first + align - 1) / align * align + first;
	*out = (int64_t)(st_value - block);
	return true;
}

int image_read(struct hp_ctx *ctx, const char *path, struct image **out)
{
	*out = NULL;
	struct image *img = hp_arena_alloc(ctx, sizeof *img);
	struct obj_elf *oe = hp_arena_alloc(ctx, sizeof *oe);
	if (!img || !oe || !(img->path = hp_arena_strdup(ctx, path)))
		return hp_nomem(ctx);
	img->elf = oe;
	int err = 0;
	oe->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (oe->fd < 0)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot open: %s", strerror(errno));
	elf_version(EV_CURRENT);
	oe->elf = elf_begin(oe->fd, ELF_C_READ_MMAP, NULL);
	GElf_Ehdr eh;
	if (!oe->elf || elf_kind(oe->elf) != ELF_K_ELF || !gelf_getehdr(oe->elf, &eh)) {
		err = hp_err(ctx, HP_ECORRUPT, path, NULL, "not an ELF file");
		goto fail;
	}
	if (gelf_getclass(oe->elf) != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		err = hp_err(ctx, HP_EUNSUPPORTED, path, NULL,
			     "not an x86-64 executable or shared library");
		goto fail;
	}
	img->type = eh.e_type;
	size_t size;
	img->bytes = (const uint8_t *)elf_rawfile(oe->elf, &size);
	img->size = size;
	if (!img->bytes) {
		err = hp_err(ctx, HP_ECORRUPT, path, NULL, "unreadable (%s)", elf_errmsg(-1));
		goto fail;
	}

	size_t nph;
	if (elf_getphdrnum(oe->elf, &nph)) {
		err = hp_err(ctx, HP_ECORRUPT, path, NULL, "program headers unreadable");
		goto fail;
	}
	img->loads = hp_arena_array(ctx, nph, sizeof *img->loads);
	if (!img->loads) {
		err = hp_nomem(ctx);
		goto fail;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(oe->elf, (int)i, &ph)) {
			err = hp_err(ctx, HP_ECORRUPT, path, NULL, "program header %zu unreadable", i);
			goto fail;
		}
		if (ph.p_type == PT_LOAD) {
			if (!hp_range_ok(ph.p_offset, ph.p_filesz, img->size) ||
			    ph.p_filesz > ph.p_memsz) {
				err = hp_err(ctx, HP_ECORRUPT, path, NULL,
					     "segment %zu lies outside the file; the file is corrupt", i);
				goto fail;
			}
			img->loads[img->nloads++] = (struct image_load){ ph.p_vaddr, ph.p_offset,
									 ph.p_filesz, ph.p_memsz,
									 ph.p_flags };
		} else if (ph.p_type == PT_TLS) {
			/* A power-of-two alignment, as the ABI requires: the rounding needs it. */
			if (ph.p_align & (ph.p_align - 1) || ph.p_memsz > (1ull << 40) ||
			    ph.p_align > (1ull << 40)) {
				err = hp_err(ctx, HP_ECORRUPT, path, NULL,
					     "TLS segment of %#llx bytes aligned to %#llx; the file is corrupt",
					     (unsigned long long)ph.p_memsz,
					     (unsigned long long)ph.p_align);
				goto fail;
			}
			img->has_tls = true;
			img->tls_vaddr = ph.p_vaddr;
			img->tls_memsz = ph.p_memsz;
			img->tls_align = ph.p_align;
		} else if (ph.p_type == PT_NOTE && !img->build_id_size &&
			   hp_range_ok(ph.p_offset, ph.p_filesz, img->size)) {
			find_build_id(img, img->bytes + ph.p_offset, ph.p_filesz);
		}
	}

	/* Symbols: count, then read .symtab and .dynsym. */
	size_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t at = 0;
		Elf_Scn *scn = NULL;
		while ((scn = elf_nextscn(oe->elf, scn))) {
			GElf_Shdr sh;
			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM)
				continue;
			if (pass == 0) {
				/* Count only what the file holds: sh_size is not checked yet. */
				if (sh.sh_entsize != sizeof(Elf64_Sym) ||
				    !hp_range_ok(sh.sh_offset, sh.sh_size, img->size)) {
					err = hp_err(ctx, HP_ECORRUPT, path, NULL,
						     "symbol table of %llu bytes at %#llx with entries of %llu bytes: not 24-byte symbols inside the file; the file is corrupt",
						     (unsigned long long)sh.sh_size,
						     (unsigned long long)sh.sh_offset,
						     (unsigned long long)sh.sh_entsize);
					goto fail;
				}
				total += sh.sh_size / sh.sh_entsize;
				if (sh.sh_type == SHT_SYMTAB)
					img->has_symtab = true;
				continue;
			}
			if ((err = read_syms(ctx, img, scn, &sh, sh.sh_type == SHT_DYNSYM, &at)) < 0)
				goto fail;
		}
		if (pass == 0) {
			img->syms = hp_arena_array(ctx, total, sizeof *img->syms);
			if (!img->syms) {
				err = hp_nomem(ctx);
				goto fail;
			}
		} else {
			img->nsyms = at;
		}
	}
	if ((err = read_gots(ctx, img)) < 0 || (err = hp_map_init(ctx, &img->by_name, img->nsyms)) < 0)
		goto fail;
	/* .symtab entries come first, so they lead each chain. */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < img->nsyms; i++) {
			struct image_sym *s = &img->syms[i], *first;
			if (s->dynamic != (pass == 1))
				continue;
			if ((err = hp_map_put(ctx, &img->by_name, s->name, s, (void **)&first)) < 0)
				goto fail;
			if (first != s) {
				struct image_sym *last = first;
				while (last->next_same_name)
					last = last->next_same_name;
				last->next_same_name = s;
			}
		}
	*out = img;
	return 0;
fail:
	image_free(img);
	return err;
}

void image_free(struct image *img)
{
	if (!img || !img->elf)
		return;
	if (img->elf->elf)
		elf_end(img->elf->elf);
	if (img->elf->fd >= 0)
		close(img->elf->fd);
	img->elf = NULL;
}

size_t image_find(const struct image *img, const char *name, const char *file, uint32_t ordinal,
		  const struct image_sym **out, size_t max)
{
	size_t n = 0;
	const struct image_sym *first = hp_map_get(&img->by_name, name);
	if (!file || !*file) {
		/* A global: the first definition, .symtab before .dynsym, the default
		 * version of a versioned one. */
		for (const struct image_sym *s = first; s; s = s->next_same_name)
			if (s->bind != STB_LOCAL && !s->hidden) {
				if (n < max)
					out[n] = s;
				return 1;
			}
		return 0;
	}
	/* A local: within each run of one STT_FILE, the ordinal-th of that name. */
	uint32_t cur = 0;
	uint32_t k = 0;
	for (const struct image_sym *s = first; s; s = s->next_same_name) {
		if (s->bind != STB_LOCAL || s->dynamic || !s->file || strcmp(s->file, file))
			continue;
		if (s->file_seq != cur) {
			cur = s->file_seq;
			k = 0;
		}
		if (k++ == ordinal) {
			if (n < max)
				out[n] = s;
			n++;
		}
	}
	return n;
}

const uint8_t *image_bytes(const struct image *img, uint64_t vaddr, uint64_t n)
{
	for (size_t i = 0; i < img->nloads; i++) {
		const struct image_load *l = &img->loads[i];
		if (vaddr >= l->vaddr && vaddr - l->vaddr <= l->filesz && n <= l->filesz - (vaddr - l->vaddr))
			return img->bytes + l->offset + (vaddr - l->vaddr);
	}
	return NULL;
}
