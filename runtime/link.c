/*
 * link.c: a patch's image linked at the address it will have in the process:
 * the initialized bytes, then every fixup with the symbols resolve.c (hpapply)
 * or runtime/preload/ (inside the process) found. Pure: it touches no process,
 * so the applier and the preload library link the same bytes.
 */
#include <inttypes.h>
#include <stdio.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "runtime/runtime_internal.h"

int link_image(struct hp_ctx *ctx, const struct hpx *h, uint64_t base, const uint64_t *sym,
	       const struct rt_tls *tls, uint8_t *img, uint64_t *write_end)
{
	memset(img, 0, h->image_size);
	memcpy(img, h->image, h->image_file_size);
	uint64_t end = h->image_file_size;
	for (size_t i = 0; i < h->nfixups; i++) {
		const struct hpx_fixup *x = &h->fixups[i];
		uint64_t T = x->target == HPX_TARGET_IMAGE ? base : sym[x->target];
		uint64_t P = base + x->offset;
		int64_t v = (int64_t)(T + (uint64_t)x->addend);
		int64_t rel = (int64_t)(T + (uint64_t)x->addend - P);
		const char *name = x->target == HPX_TARGET_IMAGE ? "the image" : h->syms[x->target].name;
		switch (x->type) {
		case HPX_FIX_ABS64:
			hp_store_le64(img + x->offset, (uint64_t)v);
			break;
		case HPX_FIX_ABS32:
			if ((uint64_t)v > UINT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "address %#" PRIx64 " does not fit the 32-bit field at +%#" PRIx64,
					      (uint64_t)v, x->offset);
			hp_store_le32(img + x->offset, (uint32_t)v);
			break;
		case HPX_FIX_ABS32S:
			if (v < INT32_MIN || v > INT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "address %#" PRIx64 " does not fit the 32-bit field at +%#" PRIx64,
					      (uint64_t)v, x->offset);
			hp_store_le32(img + x->offset, (uint32_t)(int32_t)v);
			break;
		case HPX_FIX_BRANCH32:
			if ((rel < INT32_MIN || rel > INT32_MAX) &&
			    h->syms[x->target].stub != HPX_NO_STUB)
				rel = (int64_t)(base + h->syms[x->target].stub + (uint64_t)x->addend - P);
			/* fall through */
		case HPX_FIX_PC32:
			if (rel < INT32_MIN || rel > INT32_MAX)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      "at %#" PRIx64 ", out of reach of a 32-bit displacement from the patch",
					      T);
			hp_store_le32(img + x->offset, (uint32_t)(int32_t)rel);
			break;
		case HPX_FIX_PC64:
			hp_store_le64(img + x->offset, (uint64_t)rel);
			break;
		case HPX_FIX_TPOFF32:
		case HPX_FIX_TPOFF64:
		case HPX_FIX_DTPMOD64:
		case HPX_FIX_DTPOFF64:
		case HPX_FIX_DTPOFF32: {
			/* The reader allows these only with a thread-local symbol. */
			const struct rt_tls *t = &tls[x->target];
			bool tp = x->type == HPX_FIX_TPOFF32 || x->type == HPX_FIX_TPOFF64;
			if (tp ? !t->has_tpoff : !t->has_dtp)
				return hp_err(ctx, HP_EMISMATCH, NULL, name,
					      tp ? "reached at a fixed offset from the thread pointer, as an executable's code reaches its own, but it is not the executable's"
						 : "reached through __tls_get_addr, but the target gives no module id for it");
			int64_t w = x->type == HPX_FIX_DTPMOD64 ? (int64_t)t->module
				    : tp			  ? t->tpoff + x->addend
								  : (int64_t)t->dtpoff + x->addend;
			if (x->type == HPX_FIX_TPOFF32 || x->type == HPX_FIX_DTPOFF32) {
				if (w < INT32_MIN || w > INT32_MAX)
					return hp_err(ctx, HP_EMISMATCH, NULL, name,
						      "thread-local offset %" PRId64 " does not fit the 32-bit field at +%#" PRIx64,
						      w, x->offset);
				hp_store_le32(img + x->offset, (uint32_t)(int32_t)w);
			} else {
				hp_store_le64(img + x->offset, (uint64_t)w);
			}
			break;
		}
		}
		uint64_t e = x->offset + hpx_fix_width(x->type);
		end = e > end ? e : end;
	}
	*write_end = end;
	return 0;
}
