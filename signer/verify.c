/*
 * verify.c: accepting or refusing a container by its signatures. The check an
 * applier makes before it parses anything past the fixed header:
 *
 *   hpx_read_envelope()  header (magic, sizes, check) and the blocks, nothing else
 *   signer_check()       each block: is its key trusted, does its signature hold
 *   signer_verify()      enough distinct trusted keys, and no trusted block failing
 *
 * A block names its key by id; a key outside the trust store cannot be checked
 * and does not count, but is no error by itself (the build stage may sign
 * with a key the operator does not trust). A block by a trusted key that does
 * not verify is always an error, whatever the other blocks say.
 *
 * What a verifier can check of every block, whatever its key: its framing
 * (hpx_read_envelope: magic, sizes, algorithm, reserved zero), the form of
 * its signature (sigform.c), and that no trusted key made it under another
 * key id. The rest of a block by an unknown key (its key id, its signature)
 * is protected only by a verified block after it, which signs every byte
 * before it; formats/hpx-format.md says which bytes that leaves, and why no
 * decision depends on them.
 */
#include <stdio.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

/*
 * The trusted key that made sig over the message msg would be with its own
 * key id in place of the one the block names, or NULL. Only for a block that
 * names no trusted key: its key id may have been changed (to leave it out of
 * the count, say) while its signature still holds for the key that made it.
 */
static const struct signer_trusted_key *made_by(const struct signer_trust *trust,
						const struct hpx_sig *s,
						const uint8_t msg[HPX_SIG_MESSAGE_SIZE])
{
	uint8_t m[HPX_SIG_MESSAGE_SIZE];
	memcpy(m, msg, sizeof m);
	for (size_t i = 0; i < signer_trust_count(trust); i++) {
		const struct signer_trusted_key *k = signer_trust_key(trust, i);
		if (k->algorithm != s->algorithm)
			continue;
		memcpy(m + HPX_SIG_MESSAGE_KEY_ID, k->key_id, 32);
		if (signer_verify_raw(k->pkey, s->algorithm, m, sizeof m, s->sig, s->sig_size))
			return k;
	}
	return NULL;
}

/* Judge block i (its form, its key, its signature) into b; -HP_ENOMEM only. */
static int check_block(struct hp_ctx *ctx, struct signer_block *b,
		       const struct signer_trust *trust, const uint8_t *buf, const struct hpx_sig *s)
{
	const struct signer_trusted_key *k = trust ? signer_trust_find(trust, s->key_id) : NULL;
	if (k) {
		b->trusted = true;
		b->key_name = k->name;
	}
	if (k && k->algorithm != s->algorithm) {
		b->why = hp_arena_printf(ctx, "does not verify; it says %s but the key %s is %s",
					 signer_algorithm_name(s->algorithm), k->name,
					 signer_algorithm_name(k->algorithm));
		return b->why ? 0 : hp_nomem(ctx);
	}
	/* Every block, trusted or not, holds its signature in the one accepted form. */
	const char *form = signer_sig_form_why(s->algorithm, s->sig, s->sig_size);
	if (form) {
		b->why = hp_arena_printf(ctx, "is refused: %s", form);
		return b->why ? 0 : hp_nomem(ctx);
	}
	if (!trust)
		return 0;
	uint8_t msg[HPX_SIG_MESSAGE_SIZE];
	hpx_sig_message(buf, s->start, s->algorithm, s->key_id, msg);
	if (k) {
		b->verified = signer_verify_raw(k->pkey, s->algorithm, msg, sizeof msg, s->sig,
						s->sig_size);
		if (!b->verified)
			b->why = "does not verify; the bytes it covers were changed, or it was made for another file";
		return 0;
	}
	const struct signer_trusted_key *maker = made_by(trust, s, msg);
	if (maker) {
		b->why = hp_arena_printf(ctx,
					 "is refused: it was made by the trusted key %s, not by the key it names; its key id was changed",
					 maker->name);
		return b->why ? 0 : hp_nomem(ctx);
	}
	return 0;
}

int signer_check(struct hp_ctx *ctx, const struct signer_trust *trust, const uint8_t *buf,
		 size_t len, const struct hpx *env, struct signer_verdict *out)
{
	memset(out, 0, sizeof *out);
	if (env->nsigs == 0)
		return 0;
	/* Each block costs a SHA-256 of the bytes before it and a signature check per trusted key. */
	if (env->nsigs > SIGNER_MAX_BLOCKS)
		return hp_err(ctx, HP_EVERIFY, NULL, NULL,
			      "%zu signature blocks; a verifier checks %d at most", env->nsigs,
			      SIGNER_MAX_BLOCKS);
	out->blocks = hp_arena_array(ctx, env->nsigs, sizeof *out->blocks);
	if (!out->blocks)
		return hp_nomem(ctx);
	out->nblocks = env->nsigs;
	for (size_t i = 0; i < env->nsigs; i++) {
		const struct hpx_sig *s = &env->sigs[i];
		struct signer_block *b = &out->blocks[i];
		b->start = s->start;
		b->algorithm = s->algorithm;
		memcpy(b->key_id, s->key_id, 32);
		/* The envelope reader checked that every block lies inside buf. */
		if (!hp_range_ok(s->start, HPX_SIG_HEADER_SIZE + (uint64_t)s->sig_size, len))
			return hp_err(ctx, HP_ERROR, NULL, NULL, "block %zu lies outside the file", i + 1);
		int err = check_block(ctx, b, trust, buf, s);
		if (err < 0)
			return err;
		if (b->why) {
			out->nfailed++;
			continue;
		}
		if (!b->verified)
			continue;
		/* A verified block covers every block before it. */
		for (size_t j = 0; j < i; j++)
			if (!out->blocks[j].covered_by)
				out->blocks[j].covered_by = i + 1;
		/* Count each key once, however many blocks it made. */
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			if (out->blocks[j].verified && !memcmp(out->blocks[j].key_id, b->key_id, 32))
				seen = true;
		if (!seen)
			out->nkeys_ok++;
	}
	return 0;
}

int signer_verify(struct hp_ctx *ctx, const struct signer_trust *trust, const char *name,
		  const uint8_t *buf, size_t len, size_t require, struct signer_verdict *out)
{
	memset(out, 0, sizeof *out);
	if (require == 0)
		require = 1;
	struct hpx env;
	int err = hpx_read_envelope(ctx, name, buf, len, &env);
	if (err < 0)
		return err;
	if (env.nsigs == 0)
		return hp_err(ctx, HP_EVERIFY, name, NULL,
			      "the patch is not signed; nothing past the header was parsed");
	if (env.nsigs > SIGNER_MAX_BLOCKS)
		return hp_err(ctx, HP_EVERIFY, name, NULL,
			      "%zu signature blocks; a verifier checks %d at most", env.nsigs,
			      SIGNER_MAX_BLOCKS);
	if ((err = signer_check(ctx, trust, buf, len, &env, out)) < 0)
		return err;
	char id[65];
	if (out->nfailed) {
		/* One line: the first block that fails, and which later ones fail too
		 * (a later block covers the earlier ones, so one change can fail several). */
		const struct signer_block *first = NULL;
		size_t nfirst = 0, nmore = 0;
		char more[128] = "";
		for (size_t i = 0; i < out->nblocks; i++) {
			const struct signer_block *b = &out->blocks[i];
			if (!b->why)
				continue;
			if (!first) {
				first = b;
				nfirst = i + 1;
				continue;
			}
			nmore++;
			size_t used = strlen(more);
			if (used < sizeof more - 24)
				snprintf(more + used, sizeof more - used, "%s%zu", used ? ", " : "",
					 i + 1);
		}
		hp_hex(id, first->key_id, 8);
		return hp_err(ctx, HP_EVERIFY, name, NULL, "signature %zu (%s, key %s...%s%s) %s%s%s%s",
			      nfirst, signer_algorithm_name(first->algorithm), id,
			      first->trusted ? " in " : ", untrusted",
			      first->trusted ? first->key_name : "", first->why,
			      nmore == 0 ? "" : nmore == 1 ? " (signature " : " (signatures ",
			      more, nmore == 0 ? "" : nmore == 1 ? " fails too)" : " fail too)");
	}
	if (out->nkeys_ok >= require)
		return 0;
	size_t trusted = 0;
	for (size_t i = 0; i < out->nblocks; i++)
		trusted += out->blocks[i].trusted;
	if (trusted == 0) {
		hp_hex(id, out->blocks[0].key_id, 8);
		return hp_err(ctx, HP_EVERIFY, name, NULL,
			      "no signature by a trusted key (%zu block%s, the first by key %s...); nothing past the header was parsed",
			      out->nblocks, out->nblocks == 1 ? "" : "s", id);
	}
	return hp_err(ctx, HP_EVERIFY, name, NULL,
		      "signed by %zu distinct trusted key%s, %zu required", out->nkeys_ok,
		      out->nkeys_ok == 1 ? "" : "s", require);
}
