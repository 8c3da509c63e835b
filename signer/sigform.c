/*
 * sigform.c: the one form a signature may take in a block. A signature
 * scheme where a second encoding of the same signature also verifies
 * (malleability) lets anyone change the bytes of a signed file without a key;
 * so each algorithm has one accepted form, hpsign writes only it, and a
 * verifier refuses any other before it checks the signature:
 *
 *   Ed25519      64 bytes R || S, S (little-endian) below the group order L
 *                (RFC 8032 section 5.1.7; OpenSSL checks this too).
 *   ECDSA P-256  the minimal DER ECDSA-Sig-Value SEQUENCE { INTEGER r,
 *                INTEGER s }, nothing after it, 1 <= r < n and 1 <= s <= n/2.
 *                (r, n - s) verifies whenever (r, s) does, so only the low
 *                one of the two is valid here (as in Bitcoin's BIP 62 and
 *                libsecp256k1); OpenSSL accepts both.
 *
 * Integers are 32-byte big-endian arrays: memcmp() orders them.
 */
#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

/* The order n of the P-256 group (FIPS 186-4 D.1.2.3), and n/2 rounded down. */
static const uint8_t p256_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};
static const uint8_t p256_half_n[32] = {
	0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
};
/* The order L of the Ed25519 group, 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t ed25519_l[32] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
};

static bool is_zero(const uint8_t v[32])
{
	for (int i = 0; i < 32; i++)
		if (v[i])
			return false;
	return true;
}

/* out = n - v, for 0 < v < n. */
static void n_minus(uint8_t out[32], const uint8_t v[32])
{
	unsigned borrow = 0;
	for (int i = 31; i >= 0; i--) {
		unsigned d = (unsigned)p256_n[i] - v[i] - borrow;
		out[i] = (uint8_t)d;
		borrow = d >> 8 & 1; /* the subtraction wrapped */
	}
}

/* An INTEGER of the unsigned 32-byte v at out (room for 35 bytes), minimal; returns its size. */
static size_t der_integer(uint8_t *out, const uint8_t v[32])
{
	size_t skip = 0;
	while (skip < 31 && v[skip] == 0)
		skip++;
	size_t len = 32 - skip, pad = v[skip] & 0x80 ? 1 : 0; /* a set top bit would read as negative */
	out[0] = 0x02;
	out[1] = (uint8_t)(len + pad);
	out[2] = 0;
	memcpy(out + 2 + pad, v + skip, len);
	return 2 + pad + len;
}

/*
 * One INTEGER at der[*at], at most end: a non-negative value of up to 32
 * bytes, leading zeros allowed (the caller compares with the minimal form).
 */
static int parse_integer(const uint8_t *der, size_t *at, size_t end, uint8_t out[32])
{
	if (end - *at < 2 || der[*at] != 0x02)
		return -1;
	size_t len = der[*at + 1];
	*at += 2;
	if (len == 0 || len > 0x7f || len > end - *at || der[*at] & 0x80)
		return -1; /* empty, long-form length, past the SEQUENCE, or negative */
	const uint8_t *v = der + *at;
	*at += len;
	while (len > 32 && *v == 0) {
		v++;
		len--;
	}
	if (len > 32)
		return -1;
	memset(out, 0, 32);
	memcpy(out + 32 - len, v, len);
	return 0;
}

int signer_ecdsa_der_to_raw(const uint8_t *der, size_t n, uint8_t rs[64])
{
	if (n < 2 || der[0] != 0x30 || der[1] > 0x7f || der[1] > n - 2)
		return -HP_ECORRUPT;
	size_t at = 2, end = 2 + (size_t)der[1];
	if (parse_integer(der, &at, end, rs) < 0 || parse_integer(der, &at, end, rs + 32) < 0 ||
	    at != end)
		return -HP_ECORRUPT;
	return 0;
}

int signer_ecdsa_raw_to_der(const uint8_t *rs, size_t n, uint8_t *out, size_t *out_len)
{
	if (n != 64)
		return -HP_ECORRUPT;
	const uint8_t *r = rs, *s = rs + 32;
	if (is_zero(r) || is_zero(s) || memcmp(r, p256_n, 32) >= 0 || memcmp(s, p256_n, 32) >= 0)
		return -HP_ECORRUPT;
	uint8_t low[32];
	if (memcmp(s, p256_half_n, 32) > 0) {
		n_minus(low, s);
		s = low;
	}
	uint8_t body[2 * 35];
	size_t len = der_integer(body, r);
	len += der_integer(body + len, s);
	out[0] = 0x30;
	out[1] = (uint8_t)len; /* at most 70: the short form */
	memcpy(out + 2, body, len);
	*out_len = 2 + len;
	return 0;
}

const char *signer_sig_form_why(uint16_t alg, const uint8_t *sig, size_t n)
{
	if (alg == HPX_SIG_ED25519) {
		if (n != 64)
			return "an Ed25519 signature is 64 bytes; a block holds its signature and nothing more";
		for (int i = 31; i >= 0; i--) /* S = sig[32..63], little-endian, against L */
			if (sig[32 + i] != ed25519_l[i])
				return sig[32 + i] < ed25519_l[i]
					       ? NULL
					       : "Ed25519 signature with S not below the group order; not canonical";
		return "Ed25519 signature with S not below the group order; not canonical";
	}
	if (alg != HPX_SIG_ECDSA_P256)
		return "unknown algorithm";
	uint8_t rs[64];
	if (signer_ecdsa_der_to_raw(sig, n, rs) < 0)
		return "not a DER ECDSA signature (SEQUENCE of two INTEGERs)";
	if (is_zero(rs) || is_zero(rs + 32) || memcmp(rs, p256_n, 32) >= 0 ||
	    memcmp(rs + 32, p256_n, 32) >= 0)
		return "ECDSA signature with r or s out of range (zero, or not below the group order)";
	if (memcmp(rs + 32, p256_half_n, 32) > 0)
		return "ECDSA signature with high S; not canonical";
	/* The one encoding of (r, s): anything else (a longer length, a zero too many, bytes after it) is refused. */
	uint8_t der[SIGNER_ECDSA_P256_DER_MAX];
	size_t len = 0;
	if (signer_ecdsa_raw_to_der(rs, 64, der, &len) < 0)
		return "ECDSA signature out of range";
	if (len < n && !memcmp(der, sig, len))
		return "bytes after the DER ECDSA signature; a block holds its signature and nothing more";
	if (len != n || memcmp(der, sig, n))
		return "ECDSA signature not in minimal DER; not canonical";
	return NULL;
}
