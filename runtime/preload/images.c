/*
 * images.c: the objects mapped in this process, from the dynamic linker's own
 * list (dl_iterate_phdr): where each is, its build-id (its PT_NOTE), its TLS
 * module, and the GOT slots through which it imports a name (its dynamic
 * section's relocations). Everything is read from memory, never from the file,
 * and only inside a PT_LOAD segment the image maps readable: a hole between
 * segments is a PROT_NONE page.
 */
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/preload/preload.h"

struct walk {
	struct hp_ctx *ctx;
	const struct pl_images *seen;
	struct pl_image *v;
	size_t n, cap;
	int err;
};

/* Whether [addr, addr + size) lies in one PT_LOAD segment of img with flag. */
static bool in_segment(const struct pl_image *img, uint64_t addr, uint64_t size, uint32_t flag)
{
	for (size_t i = 0; i < img->phnum; i++) {
		const ElfW(Phdr) *ph = &img->phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & flag))
			continue;
		uint64_t start = img->bias + ph->p_vaddr;
		if (addr >= start && hp_range_ok(addr - start, size, ph->p_memsz))
			return true;
	}
	return false;
}

bool pl_image_code(const struct pl_image *img, uint64_t addr, uint64_t size)
{
	return in_segment(img, addr, size, PF_X) && in_segment(img, addr, size, PF_R);
}

/* The GNU build-id from the image's notes (n_namesz "GNU\0", NT_GNU_BUILD_ID). */
static void read_build_id(struct pl_image *img)
{
	for (size_t i = 0; i < img->phnum; i++) {
		const ElfW(Phdr) *ph = &img->phdr[i];
		uint64_t at = img->bias + ph->p_vaddr;
		if (ph->p_type != PT_NOTE || !in_segment(img, at, ph->p_memsz, PF_R))
			continue;
		const uint8_t *p = (const uint8_t *)(uintptr_t)at;
		uint64_t off = 0, len = ph->p_memsz;
		while (hp_range_ok(off, 12, len)) {
			uint32_t namesz = hp_load_le32(p + off), descsz = hp_load_le32(p + off + 4),
				 type = hp_load_le32(p + off + 8);
			uint64_t name = off + 12, desc = name + ((namesz + 3ull) & ~3ull);
			uint64_t next = desc + ((descsz + 3ull) & ~3ull);
			if (!hp_range_ok(name, namesz, len) || !hp_range_ok(desc, descsz, len))
				break;
			if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(p + name, "GNU", 4) &&
			    descsz && descsz <= sizeof img->build_id) {
				memcpy(img->build_id, p + desc, descsz);
				img->build_id_size = descsz;
				return;
			}
			off = next;
		}
	}
}

static int one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	(void)size;
	if ((w->err = hp_arena_grow(w->ctx, &w->v, &w->cap, w->n, sizeof *w->v, 32)) < 0)
		return 1;
	struct pl_image *img = &w->v[w->n];
	memset(img, 0, sizeof *img);
	img->name = info->dlpi_name ? info->dlpi_name : "";
	img->bias = info->dlpi_addr;
	img->phdr = info->dlpi_phdr;
	img->phnum = info->dlpi_phnum;
	img->main = w->n == 0; /* the dynamic linker lists the executable first */
	img->tls_modid = info->dlpi_tls_modid;
	img->lo = UINT64_MAX;
	for (size_t i = 0; i < img->phnum; i++) {
		const ElfW(Phdr) *ph = &img->phdr[i];
		if (ph->p_type == PT_LOAD) {
			uint64_t a = img->bias + ph->p_vaddr, b = a + ph->p_memsz;
			img->lo = a < img->lo ? a : img->lo;
			img->hi = b > img->hi ? b : img->hi;
		} else if (ph->p_type == PT_TLS) {
			img->has_tls = true;
			img->tls_vaddr = ph->p_vaddr;
			img->tls_memsz = ph->p_memsz;
			img->tls_align = ph->p_align;
		}
	}
	if (img->lo == UINT64_MAX)
		return 0; /* maps nothing: not an image to patch */
	read_build_id(img);
	for (size_t i = 0; w->seen && i < w->seen->n && !img->seen; i++) {
		const struct pl_image *s = &w->seen->v[i];
		img->seen = s->bias == img->bias && s->lo == img->lo && s->hi == img->hi &&
			    s->build_id_size == img->build_id_size &&
			    !memcmp(s->build_id, img->build_id, img->build_id_size);
	}
	w->n++;
	return 0;
}

int pl_images_read(struct hp_ctx *ctx, const struct pl_images *seen, struct pl_image *buf,
		   size_t cap, struct pl_images *out)
{
	struct walk w = { ctx, seen, buf, 0, cap, 0 };
	dl_iterate_phdr(one, &w);
	if (w.err < 0)
		return w.err;
	out->v = w.v;
	out->n = w.n;
	return 0;
}

/* ----- the dynamic section, and the GOT slots it names ------------------------------ */

/*
 * A pointer the dynamic section holds: the dynamic linker rewrites most of them
 * to addresses when it loads an object; an executable's (or a value it left)
 * is a virtual address. Either way the result must lie in the image.
 */
static uint64_t dyn_ptr(const struct pl_image *img, uint64_t v)
{
	if (v >= img->lo && v < img->hi)
		return v;
	if (img->bias + v >= img->lo && img->bias + v < img->hi)
		return img->bias + v;
	return 0;
}

struct dyn {
	uint64_t symtab, strtab, strsz;
	uint64_t rela, relasz, jmprel, pltrelsz;
	bool pltrela;
};

static int read_dyn(struct hp_ctx *ctx, const struct pl_image *img, struct dyn *d)
{
	memset(d, 0, sizeof *d);
	const ElfW(Phdr) *dyn = NULL;
	for (size_t i = 0; i < img->phnum && !dyn; i++)
		if (img->phdr[i].p_type == PT_DYNAMIC)
			dyn = &img->phdr[i];
	if (!dyn)
		return 0; /* a static executable: it imports nothing */
	uint64_t at = img->bias + dyn->p_vaddr;
	if (!in_segment(img, at, dyn->p_memsz, PF_R))
		return hp_err(ctx, HP_ERROR, img->name[0] ? img->name : "the executable", NULL,
			      "its dynamic section lies outside its segments");
	const ElfW(Dyn) *e = (const ElfW(Dyn) *)(uintptr_t)at;
	size_t n = dyn->p_memsz / sizeof *e;
	uint64_t relaent = sizeof(ElfW(Rela)), syment = sizeof(ElfW(Sym));
	for (size_t i = 0; i < n && e[i].d_tag != DT_NULL; i++) {
		uint64_t v = e[i].d_un.d_val;
		switch (e[i].d_tag) {
		case DT_SYMTAB: d->symtab = dyn_ptr(img, v); break;
		case DT_STRTAB: d->strtab = dyn_ptr(img, v); break;
		case DT_STRSZ: d->strsz = v; break;
		case DT_SYMENT: syment = v; break;
		case DT_RELA: d->rela = dyn_ptr(img, v); break;
		case DT_RELASZ: d->relasz = v; break;
		case DT_RELAENT: relaent = v; break;
		case DT_JMPREL: d->jmprel = dyn_ptr(img, v); break;
		case DT_PLTRELSZ: d->pltrelsz = v; break;
		case DT_PLTREL: d->pltrela = v == DT_RELA; break;
		}
	}
	if (relaent != sizeof(ElfW(Rela)) || syment != sizeof(ElfW(Sym)) ||
	    (d->strtab && !in_segment(img, d->strtab, d->strsz, PF_R)) ||
	    (d->rela && !in_segment(img, d->rela, d->relasz, PF_R)) ||
	    (d->jmprel && !in_segment(img, d->jmprel, d->pltrelsz, PF_R)))
		return hp_err(ctx, HP_ERROR, img->name[0] ? img->name : "the executable", NULL,
			      "its dynamic section is not one this reader understands");
	return 0;
}

/* The name of dynamic symbol i, or NULL. */
static const char *sym_name(const struct pl_image *img, const struct dyn *d, uint64_t i)
{
	if (!d->symtab || !d->strtab || i > (UINT64_MAX - d->symtab) / sizeof(ElfW(Sym)) - 1)
		return NULL;
	uint64_t at = d->symtab + i * sizeof(ElfW(Sym));
	if (!in_segment(img, at, sizeof(ElfW(Sym)), PF_R))
		return NULL;
	const ElfW(Sym) *s = (const ElfW(Sym) *)(uintptr_t)at;
	if (s->st_name >= d->strsz)
		return NULL;
	const char *name = (const char *)(uintptr_t)d->strtab + s->st_name;
	return memchr(name, 0, d->strsz - s->st_name) ? name : NULL;
}

static int find_in(const struct pl_image *img, const struct dyn *d, uint64_t table, uint64_t size,
		   const char *name, uint32_t type, uint64_t *out)
{
	if (!table)
		return 0;
	const ElfW(Rela) *r = (const ElfW(Rela) *)(uintptr_t)table;
	for (size_t i = 0; i < size / sizeof *r; i++) {
		uint32_t t = (uint32_t)ELF64_R_TYPE(r[i].r_info);
		if (type ? t != type : t != R_X86_64_GLOB_DAT && t != R_X86_64_JUMP_SLOT)
			continue;
		const char *n = sym_name(img, d, ELF64_R_SYM(r[i].r_info));
		if (!n || strcmp(n, name))
			continue;
		uint64_t slot = img->bias + r[i].r_offset;
		if (!in_segment(img, slot, 8, PF_R))
			continue;
		memcpy(out, (const void *)(uintptr_t)slot, 8);
		return 1;
	}
	return 0;
}

int pl_image_got(struct hp_ctx *ctx, const struct pl_image *img, const char *name, uint32_t type,
		 uint64_t *out)
{
	struct dyn d;
	int err = read_dyn(ctx, img, &d);
	if (err < 0)
		return err;
	int found = find_in(img, &d, d.rela, d.relasz, name, type, out);
	if (!found && d.pltrela)
		found = find_in(img, &d, d.jmprel, d.pltrelsz, name, type, out);
	return found;
}
