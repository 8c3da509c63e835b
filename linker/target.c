/*
 * target.c: bind a patch to the binary it was built for (hpbuild --target):
 * its build-id, where the binary has each replaced function (found by name,
 * file and ordinal, and told apart by the masked hash of its old bytes), and
 * where it has each symbol the patch needs, so that hpapply can patch a
 * stripped copy of the same build.
 */
#include <elf.h>
#include <string.h>

#include "linker/linker.h"

#define TARGET_STRIPPED \
	" (it is stripped: give --target the binary before strip; processes may run the stripped copy)"

int linker_bind_target(struct hp_ctx *ctx, const char *path, struct hpx *h)
{
	struct image *img;
	int err = image_read(ctx, path, &img);
	if (err < 0)
		return err;
	if (!img->build_id_size) {
		err = hp_err(ctx, HP_ERROR, path, NULL,
			     "has no GNU build-id; link it with --build-id so a patch can be bound to it");
		goto out;
	}
	memcpy(h->build_id, img->build_id, img->build_id_size);
	h->build_id_size = img->build_id_size;
	const char *base = strrchr(path, '/');
	h->target_name = base ? base + 1 : path;
	for (size_t i = 0; i < h->nfuncs; i++) {
		struct hpx_func *f = &h->funcs[i];
		const struct image_sym *c[8];
		size_t n = image_find(img, f->name, f->file, f->ordinal, c, 8);
		if (n == 0) {
			err = hp_err(ctx, HP_ERROR, path, f->name,
				     "not found in the target%s; was %s linked into it?",
				     img->has_symtab ? "" : TARGET_STRIPPED,
				     h->objects[f->object].path);
			continue;
		}
		/* Several files of one name each with such a static: the old bytes decide. */
		size_t match = 0, sized = 0;
		for (size_t k = 0; k < n && k < 8; k++) {
			if (c[k]->size != f->old_size)
				continue;
			sized++;
			const uint8_t *bytes = image_bytes(img, c[k]->value, c[k]->size);
			uint8_t hash[32];
			if (!bytes)
				continue;
			hpx_masked_hash(bytes, f->old_size, h->masks + f->mask_first, f->mask_count,
					hash);
			if (!memcmp(hash, f->old_hash, 32)) {
				match++;
				f->addr = c[k]->value; /* several matches: refused below */
			}
		}
		if (!sized)
			err = hp_err(ctx, HP_ERROR, path, f->name,
				     "is %llu bytes in the target but %llu in the old object; the target was not built from it",
				     (unsigned long long)c[0]->size, (unsigned long long)f->old_size);
		else if (!match)
			err = hp_err(ctx, HP_ERROR, path, f->name,
				     "its bytes in the target differ from the old object's; the target was not built from %s",
				     h->objects[f->object].path);
		else if (match > 1)
			err = hp_err(ctx, HP_ERROR, path, f->name,
				     "%zu identical copies in the target; cannot tell which to replace",
				     match);
	}
	/* Where the target has each symbol, so that a stripped copy of it can be
	 * patched: a symbol of the patched objects exactly; an import only when the
	 * target defines it itself (hpapply looks there first too), never an IFUNC,
	 * whose implementation the dynamic linker chooses at run time. */
	for (size_t i = 0; i < h->nsyms; i++) {
		struct hpx_sym *s = &h->syms[i];
		const struct image_sym *c[2];
		size_t n = image_find(img, s->name, s->file, s->ordinal, c, 2);
		if (s->kind == HPX_SYM_TLS) {
			/* A thread-local variable: its offset in the target's TLS segment
			 * (an import is found in the target's GOT by hpapply). */
			if (n == 1 && c[0]->type == STT_TLS && img->has_tls &&
			    c[0]->value < img->tls_memsz)
				s->addr = c[0]->value | HPX_ADDR_TLS;
			else if (s->scope == HPX_SCOPE_TARGET || n)
				err = hp_err(ctx, HP_ERROR, path, s->name,
					     "the patch reads this thread-local variable, but the target has %s%s",
					     n > 1 ? "several of that name" : n ? "no TLS segment or it is not thread-local" : "no such variable",
					     img->has_symtab ? "" : TARGET_STRIPPED);
			continue;
		}
		if (s->scope != HPX_SCOPE_TARGET) {
			if (n && c[0]->type != STT_GNU_IFUNC)
				s->addr = c[0]->value;
			continue;
		}
		if (!n)
			err = hp_err(ctx, HP_ERROR, path, s->name,
				     "the patch refers to it, but the target has no such symbol%s",
				     img->has_symtab ? "" : TARGET_STRIPPED);
		else if (n > 1)
			err = hp_err(ctx, HP_ERROR, path, s->name,
				     "several symbols of that name and file in the target; cannot tell which the patch means");
		else
			s->addr = c[0]->value;
	}
out:
	image_free(img);
	return err;
}
