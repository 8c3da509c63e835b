/*
 * uri.c: pkcs11: URIs (RFC 7512), the way a user names a key in an HSM.
 *
 *   pkcs11-URI = "pkcs11:" path [ "?" query ]
 *   path       = [ attr *( ";" attr ) ]      attr = name "=" value
 *   query      = [ attr *( "&" attr ) ]
 *
 * Values are percent-decoded (%01 is the byte 0x01; id= is bytes, the other
 * values are text). A URI picks one key, so an attribute this reader does not
 * know, or one given twice, is refused rather than ignored: ignoring it could
 * pick another key than the one meant. pin-value= is refused too: it would
 * put the PIN on the command line, visible in ps.
 */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "formats/base.h"
#include "signer/signer_internal.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) into the arena; *len gets the decoded size. NULL on a bad escape. */
static uint8_t *decode(struct hp_ctx *ctx, const char *s, size_t n, size_t *len, bool *bad)
{
	uint8_t *p = hp_arena_alloc(ctx, n + 1);
	if (!p)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			p[k++] = (uint8_t)s[i];
			continue;
		}
		int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			*bad = true;
			return NULL;
		}
		p[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	p[k] = 0;
	*len = k;
	return p;
}

enum where { IN_PATH, IN_QUERY };

/* Store one attribute name=value in out. */
static int set_attr(struct hp_ctx *ctx, struct signer_uri *out, const char *uri, enum where w,
		    const char *name, size_t name_len, const char *val, size_t val_len)
{
	static const struct {
		const char *name;
		enum where where;
		size_t offset; /* of the const char * field; SIZE_MAX for special ones */
	} attrs[] = {
		{ "token", IN_PATH, offsetof(struct signer_uri, token) },
		{ "manufacturer", IN_PATH, offsetof(struct signer_uri, manufacturer) },
		{ "serial", IN_PATH, offsetof(struct signer_uri, serial) },
		{ "model", IN_PATH, offsetof(struct signer_uri, model) },
		{ "slot-description", IN_PATH, offsetof(struct signer_uri, slot_description) },
		{ "slot-manufacturer", IN_PATH, offsetof(struct signer_uri, slot_manufacturer) },
		{ "library-manufacturer", IN_PATH,
		  offsetof(struct signer_uri, library_manufacturer) },
		{ "library-description", IN_PATH, offsetof(struct signer_uri, library_description) },
		{ "library-version", IN_PATH, offsetof(struct signer_uri, library_version) },
		{ "object", IN_PATH, offsetof(struct signer_uri, object) },
		{ "type", IN_PATH, offsetof(struct signer_uri, type) },
		{ "module-path", IN_QUERY, offsetof(struct signer_uri, module_path) },
		{ "pin-source", IN_QUERY, offsetof(struct signer_uri, pin_source) },
		{ "id", IN_PATH, SIZE_MAX },
		{ "slot-id", IN_PATH, SIZE_MAX },
	};
	char nm[32];
	if (name_len == 0 || name_len >= sizeof nm)
		return hp_err(ctx, HP_ERROR, uri, NULL, "'%.*s' is not an attribute name=value",
			      (int)(name_len + val_len + (val ? 1 : 0)), name);
	memcpy(nm, name, name_len);
	nm[name_len] = 0;
	if (!val)
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' has no '=value'", nm);
	if (w == IN_QUERY && !strcmp(nm, "pin-value"))
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "pin-value= would show the PIN on the command line; use HP_PIN, --pin-env or --pin-file");
	if (w == IN_QUERY && !strcmp(nm, "module-name"))
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "module-name= is not supported; give the module with --module, module-path= or PKCS11_MODULE_PATH");
	size_t i;
	for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
		if (attrs[i].where == w && !strcmp(attrs[i].name, nm))
			break;
	if (i == sizeof attrs / sizeof attrs[0])
		return hp_err(ctx, HP_ERROR, uri, NULL, "unknown %s attribute '%s'",
			      w == IN_PATH ? "path" : "query", nm);
	size_t len = 0;
	bool bad = false;
	uint8_t *v = decode(ctx, val, val_len, &len, &bad);
	if (!v)
		return bad ? hp_err(ctx, HP_ERROR, uri, NULL,
				    "attribute '%s': bad percent escape (%%XX, two hex digits)", nm)
			   : hp_nomem(ctx);

	if (!strcmp(nm, "id")) {
		if (out->has_id)
			return hp_err(ctx, HP_ERROR, uri, NULL, "attribute 'id' is given twice");
		out->id = v;
		out->id_len = len;
		out->has_id = true;
		return 0;
	}
	if (memchr(v, 0, len))
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' holds a NUL byte", nm);
	if (!strcmp(nm, "slot-id")) {
		char *end;
		errno = 0;
		unsigned long id = strtoul((char *)v, &end, 10);
		if (out->has_slot_id)
			return hp_err(ctx, HP_ERROR, uri, NULL, "attribute 'slot-id' is given twice");
		if (!len || *end || errno || v[0] < '0' || v[0] > '9')
			return hp_err(ctx, HP_ERROR, uri, NULL, "slot-id '%s' is not a number", v);
		out->slot_id = id;
		out->has_slot_id = true;
		return 0;
	}
	const char **field = (const char **)((char *)out + attrs[i].offset);
	if (*field)
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' is given twice", nm);
	const char *s = (const char *)v;
	if (!strcmp(nm, "type") && strcmp(s, "private") && strcmp(s, "public") &&
	    strcmp(s, "cert") && strcmp(s, "secret-key") && strcmp(s, "data"))
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "type '%s' is not private, public, cert, secret-key or data", s);
	if (!strcmp(nm, "pin-source")) {
		/* RFC 7512 allows any URI here; a file is all a signer needs. */
		if (!strncmp(s, "file:", 5))
			s += 5;
		if (s[0] != '/')
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "pin-source '%s' is not file:/ABSOLUTE/PATH", (const char *)v);
	}
	*field = s;
	return 0;
}

/* Split s[0..n) at sep and store each attribute. */
static int parse_part(struct hp_ctx *ctx, struct signer_uri *out, const char *uri, enum where w,
		      const char *s, size_t n, char sep)
{
	size_t i = 0;
	while (i < n) {
		size_t end = i;
		while (end < n && s[end] != sep)
			end++;
		if (end > i) { /* empty parts (a trailing ';') are harmless */
			const char *eq = memchr(s + i, '=', end - i);
			int err = set_attr(ctx, out, uri, w, s + i,
					   eq ? (size_t)(eq - (s + i)) : end - i, eq ? eq + 1 : NULL,
					   eq ? (size_t)(s + end - (eq + 1)) : 0);
			if (err < 0)
				return err;
		}
		i = end + 1;
	}
	return 0;
}

int signer_uri_parse(struct hp_ctx *ctx, const char *uri, struct signer_uri *out)
{
	memset(out, 0, sizeof *out);
	if (strncasecmp(uri, "pkcs11:", 7))
		return hp_err(ctx, HP_ERROR, uri, NULL, "not a pkcs11: URI");
	const char *path = uri + 7;
	const char *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);
	int err = parse_part(ctx, out, uri, IN_PATH, path, plen, ';');
	if (!err && q)
		err = parse_part(ctx, out, uri, IN_QUERY, q + 1, strlen(q + 1), '&');
	return err;
}
