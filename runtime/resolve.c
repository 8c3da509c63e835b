/*
 * resolve.c: finding what a patch names in a running process, and linking
 * the patch's image at the address it will have there. Read-only towards the
 * process: nothing here writes to it.
 *
 *   resolve_patch()  the target image (by build-id, or where every replaced
 *                    function is found), each replaced function checked
 *                    against its old bytes, each symbol the new code needs
 *
 * link.c links the image once everything is resolved.
 */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "runtime/runtime_internal.h"

/* ----- finding things in the process ------------------------------------------- */

/* Why a name is not found in an image without .symtab, and what works instead. */
#define STRIPPED_HINT \
	" (it is stripped: build the patch with hpbuild --target on the unstripped binary, which records where each function is)"

static const struct rt_image *find_target(struct rt_proc *p, const struct hpx *h)
{
	for (size_t i = 0; i < p->nimages; i++) {
		const struct image *img = p->images[i].img;
		if (h->build_id_size && img->build_id_size == h->build_id_size &&
		    !memcmp(img->build_id, h->build_id, h->build_id_size))
			return &p->images[i];
	}
	return NULL;
}

/*
 * The function of the target that f names, checked against its old bytes. The
 * entry bytes of a function already redirected by earlier patches are taken
 * from the state record (the lowest layer saved the original ones).
 */
static int locate_func(struct rt_proc *p, const struct rt_image *ti, const struct hpx *h,
		       const struct hpx_func *f, const struct rt_state *st, uint64_t *out)
{
	const struct image_sym *c[8];
	/* Where hpbuild --target found it (the image matched by build-id): a stripped
	 * copy of the binary has no .symtab to search. The old bytes decide as ever. */
	struct image_sym at = { .name = f->name, .type = STT_FUNC, .value = f->addr,
				.size = f->old_size };
	size_t n = 1;
	if (f->addr)
		c[0] = &at;
	else
		n = image_find(ti->img, f->name, f->file, f->ordinal, c, 8);
	if (n == 0)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name, "not found in the target%s",
			      ti->img->has_symtab ? "" : STRIPPED_HINT);
	uint8_t *bytes = malloc(f->old_size ? f->old_size : 1);
	if (!bytes)
		return hp_nomem(p->ctx);
	size_t matches = 0;
	bool sized = false;
	for (size_t k = 0; k < n && k < 8; k++) {
		if (c[k]->size != f->old_size || c[k]->type != STT_FUNC)
			continue;
		sized = true;
		uint64_t addr = ti->bias + c[k]->value;
		if (proc_read(p, addr, bytes, f->old_size) < 0) {
			free(bytes);
			return -HP_ERROR;
		}
		for (uint32_t i = 0; i < st->nfuncs; i++)
			if (st->funcs[i].addr == addr) {
				memcpy(bytes, st->funcs[i].saved, 5); /* the bottom layer's */
				break;
			}
		uint8_t hash[32];
		hpx_masked_hash(bytes, f->old_size, h->masks + f->mask_first, f->mask_count, hash);
		if (!memcmp(hash, f->old_hash, 32)) {
			*out = addr;
			matches++;
		}
	}
	free(bytes);
	if (!sized)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "is %llu bytes in the process, the patch expects %llu; not the build it was made for",
			      (unsigned long long)c[0]->size, (unsigned long long)f->old_size);
	if (matches == 0)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "its code in the process differs from the patch's old bytes; not the build it was made for");
	if (matches > 1)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, f->name,
			      "%zu identical candidates; cannot tell which one to replace", matches);
	return 0;
}

/*
 * A symbol the patch's code refers to. Defined in the patched object: in the
 * target image. Imported: where the target image's own GOT slot for it points
 * (that is where its calls go, IFUNCs and symbol versions already chosen by the
 * dynamic linker; a lazy slot points back into the PLT, which still resolves);
 * else the first image defining it, the executable first.
 */
static int read_slot(struct rt_proc *p, const struct rt_image *ti, const struct image_got *g,
		     uint64_t *out)
{
	uint8_t v[8];
	if (proc_read(p, ti->bias + g->slot, v, 8) < 0)
		return -HP_ERROR;
	*out = hp_load_le64(v);
	return 0;
}

/* The module id the dynamic linker gave the target: 1 for the executable, else
 * what it wrote into one of the target's own module slots. */
static int own_module(struct rt_proc *p, const struct rt_image *ti, uint64_t *out, bool *found)
{
	*found = false;
	if (ti->main) {
		*out = 1;
		*found = true;
		return 0;
	}
	const struct image_got *g = image_find_tls_got(ti->img, "", R_X86_64_DTPMOD64);
	for (size_t i = 0; !g && i < ti->img->ngots; i++) {
		const struct image_got *x = &ti->img->gots[i];
		const struct image_sym *c[1];
		if (x->tls == R_X86_64_DTPMOD64 && image_find(ti->img, x->name, "", 0, c, 1) &&
		    c[0]->type == STT_TLS)
			g = x; /* a variable the target defines: its module is the target's */
	}
	if (!g)
		return 0;
	int err = read_slot(p, ti, g, out);
	*found = err == 0;
	return err;
}

static int resolve_tls(struct rt_proc *p, const struct rt_image *ti, const struct hpx_sym *s,
		       struct rt_tls *out)
{
	memset(out, 0, sizeof *out);
	uint64_t st_value = 0;
	bool defined = false;
	if (s->addr & HPX_ADDR_TLS) { /* recorded by hpbuild --target */
		st_value = s->addr & ~HPX_ADDR_TLS;
		defined = true;
	} else {
		const struct image_sym *c[2];
		size_t n = image_find(ti->img, s->name, s->file, s->ordinal, c, 2);
		if (n > 1)
			return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name,
				      "several thread-local variables of that name; cannot tell which");
		if (n == 1 && c[0]->type == STT_TLS) {
			st_value = c[0]->value;
			defined = true;
		}
	}
	int err;
	if (defined) {
		out->dtpoff = st_value;
		if ((err = own_module(p, ti, &out->module, &out->has_dtp)) < 0)
			return err;
		out->has_tpoff = ti->main && image_tpoff(ti->img, st_value, &out->tpoff);
	} else if (s->scope == HPX_SCOPE_GLOBAL) {
		/* Another image's: where the dynamic linker told the target it is. */
		const struct image_got *tp = image_find_tls_got(ti->img, s->name, R_X86_64_TPOFF64);
		const struct image_got *mod = image_find_tls_got(ti->img, s->name, R_X86_64_DTPMOD64);
		const struct image_got *off = image_find_tls_got(ti->img, s->name, R_X86_64_DTPOFF64);
		uint64_t v;
		if (tp) {
			if ((err = read_slot(p, ti, tp, &v)) < 0)
				return err;
			out->tpoff = (int64_t)v;
			out->has_tpoff = true;
		}
		if (mod && off) {
			if ((err = read_slot(p, ti, mod, &out->module)) < 0 ||
			    (err = read_slot(p, ti, off, &out->dtpoff)) < 0)
				return err;
			out->has_dtp = true;
		}
	}
	if (!out->has_tpoff && !out->has_dtp)
		return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name,
			      "the patch reaches this thread-local variable, but the target neither defines it nor imports it%s",
			      ti->img->has_symtab ? "" : STRIPPED_HINT);
	return 0;
}

static int resolve_sym(struct rt_proc *p, const struct rt_image *ti, const struct hpx_sym *s,
		       uint64_t *out)
{
	const struct image_sym *c[2];
	if (s->addr) { /* recorded by hpbuild --target: defined in the target itself */
		*out = ti->bias + s->addr;
		return 0;
	}
	if (s->scope == HPX_SCOPE_TARGET) {
		size_t n = image_find(ti->img, s->name, s->file, s->ordinal, c, 2);
		if (n != 1)
			return hp_err(p->ctx, HP_EMISMATCH, ti->path, s->name, "%s%s",
				      n ? "several symbols of that name; cannot tell which"
					: "the patch refers to it, but the target has no such symbol",
				      n || ti->img->has_symtab ? "" : STRIPPED_HINT);
		*out = ti->bias + c[0]->value;
		return 0;
	}
	if (image_find(ti->img, s->name, "", 0, c, 1) && c[0]->type != STT_GNU_IFUNC) {
		*out = ti->bias + c[0]->value;
		return 0;
	}
	const struct image_got *g = image_find_got(ti->img, s->name);
	if (g) {
		uint8_t v[8];
		if (proc_read(p, ti->bias + g->slot, v, 8) < 0)
			return -HP_ERROR;
		*out = hp_load_le64(v);
		if (*out)
			return 0;
	}
	for (size_t i = 0; i < p->nimages; i++) {
		const struct rt_image *ri = &p->images[i];
		if (ri == ti || !image_find(ri->img, s->name, "", 0, c, 1))
			continue;
		if (c[0]->type == STT_GNU_IFUNC)
			return hp_err(p->ctx, HP_EMISMATCH, ri->path, s->name,
				      "is an IFUNC the target does not import; its implementation cannot be chosen from outside");
		*out = ri->bias + c[0]->value;
		return 0;
	}
	return hp_err(p->ctx, HP_EMISMATCH, NULL, s->name,
		      "the patch needs it, but no image in process %d defines it", (int)p->pid);
}

int resolve_patch(struct rt_proc *p, const struct hpx *h, const struct rt_state *st,
		  uint64_t *func_addr, uint64_t *symaddr, struct rt_tls *tls,
		  const struct rt_image **out)
{
	struct hp_ctx *ctx = p->ctx;
	pid_t pid = p->pid;
	int err;
	const struct rt_image *ti = NULL;
	if (h->build_id_size) {
		ti = find_target(p, h);
		if (!ti) {
			char bid[129] = "";
			for (uint32_t i = 0; i < h->build_id_size; i++)
				snprintf(bid + 2 * i, 3, "%02x", h->build_id[i]);
			return hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				      "process %d maps no image with build-id %s (%s)", (int)pid, bid,
				      h->target_name);
		}
	} else {
		/* Not bound to a build-id: the image where every function is found. */
		for (size_t i = 0; i < p->nimages && !ti; i++) {
			size_t mark = ctx->ndiags;
			bool all = true;
			for (size_t k = 0; k < h->nfuncs && all; k++)
				all = locate_func(p, &p->images[i], h, &h->funcs[k], st, &func_addr[k]) == 0;
			hp_diag_rollback(ctx, mark);
			if (all)
				ti = &p->images[i];
		}
		/* None holds them all: report against the one naming the most of them. */
		size_t best = 0;
		for (size_t i = 0; i < p->nimages && !ti; i++) {
			size_t named = 0;
			for (size_t k = 0; k < h->nfuncs; k++) {
				const struct image_sym *c[1];
				named += image_find(p->images[i].img, h->funcs[k].name, h->funcs[k].file,
						    h->funcs[k].ordinal, c, 1) > 0;
			}
			if (named > best) {
				best = named;
				ti = &p->images[i];
			}
		}
		if (!ti) {
			/* A stripped executable is the likely reason; libraries usually are. */
			const char *stripped = NULL;
			for (size_t i = 0; i < p->nimages && !stripped; i++)
				if (p->images[i].main && !p->images[i].img->has_symtab)
					stripped = p->images[i].path;
			return hp_err(ctx, HP_EMISMATCH, NULL, NULL,
				      "process %d: no image defines the functions the patch replaces (%s ...)%s%s%s",
				      (int)pid, h->nfuncs ? h->funcs[0].name : "", stripped ? "; " : "",
				      stripped ? stripped : "", stripped ? STRIPPED_HINT : "");
		}
	}
	int bad = 0;
	for (size_t k = 0; k < h->nfuncs; k++)
		if ((err = locate_func(p, ti, h, &h->funcs[k], st, &func_addr[k])) < 0)
			bad = err;
	for (size_t k = 0; k < h->nsyms; k++)
		if ((err = h->syms[k].kind == HPX_SYM_TLS
				   ? resolve_tls(p, ti, &h->syms[k], &tls[k])
				   : resolve_sym(p, ti, &h->syms[k], &symaddr[k])) < 0)
			bad = err;
	*out = ti;
	return bad;
}
