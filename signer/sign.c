/*
 * sign.c: appending a signature block to a container (formats/hpx-format.md,
 * "Signature blocks"). The last pass of hpbuild --sign and all of hpsign.
 *
 * A block at file offset S signs the 88-byte message hpx_sig_message() makes
 * of bytes [0, S): the header, the body and every block before it. Appending
 * changes no byte before S, so the blocks already there stay valid.
 */
#include <stdlib.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

/*
 * The block (48 bytes + signature):
 *   "HSG1" block_size:u32 algorithm:u16 sig_size:u16 reserved:u32 key_id[32] sig[sig_size]
 */
int signer_append(struct hp_ctx *ctx, struct signer_key *key, const char *name, uint8_t **buf,
		  size_t *len)
{
	/* Only a well-formed envelope gets a block: a reader would refuse the result. */
	struct hpx env;
	int err = hpx_read_envelope(ctx, name, *buf, *len, &env);
	if (err < 0)
		return err;
	if (env.nsigs >= SIGNER_MAX_BLOCKS)
		return hp_err(ctx, HP_ERROR, name, NULL,
			      "already %zu signature blocks, the most a verifier checks; nothing written",
			      env.nsigs);
	uint16_t alg = signer_key_algorithm(key);
	const uint8_t *key_id = signer_key_id(key);
	uint8_t msg[HPX_SIG_MESSAGE_SIZE];
	hpx_sig_message(*buf, *len, alg, key_id, msg);
	uint8_t sig[HPX_SIG_MAX];
	size_t sig_len = 0;
	if ((err = signer_sign_message(ctx, key, msg, sig, &sig_len)) < 0)
		return err;
	if (sig_len == 0 || sig_len > HPX_SIG_MAX)
		return hp_err(ctx, HP_ERROR, name, NULL, "a %zu-byte signature does not fit a block",
			      sig_len);
	size_t block = HPX_SIG_HEADER_SIZE + sig_len;
	uint8_t *p = realloc(*buf, *len + block);
	if (!p)
		return hp_nomem(ctx);
	uint8_t *b = p + *len;
	memcpy(b, "HSG1", 4);
	hp_store_le32(b + 4, (uint32_t)block);
	hp_store_le16(b + 8, alg);
	hp_store_le16(b + 10, (uint16_t)sig_len);
	hp_store_le32(b + 12, 0);
	memcpy(b + 16, key_id, 32);
	memcpy(b + HPX_SIG_HEADER_SIZE, sig, sig_len);
	*buf = p;
	*len += block;
	return 0;
}
