/*
 * uri.c: pkcs11: URIs (RFC 7512), the way a user names a key in an HSM.
 *
 *   pkcs11-URI = "pkcs11:" path [ "?" query ]
 *   path       = [ attr *( ";" attr ) ]      attr = name "=" value
 *   query      = [ attr *( "&" attr ) ]
 *
 * p11-kit parses the URI (p11_kit_uri_parse): it percent-decodes the values
 * (id= is bytes, the others text) and fills in the token, slot and library
 * information that pkcs11.c matches with p11_kit_uri_match_*_info(). This
 * file reads the attribute names first, because p11-kit 0.24 lets through
 * what a signer must not take: an unknown path attribute only sets a flag
 * (p11_kit_uri_any_unrecognized, which does not say which), an unknown query
 * attribute is kept as a "vendor query", an attribute given twice silently
 * replaces the first, and pin-value= is accepted in the path and the query.
 * A URI picks one key, so an attribute this reader does not know, or one
 * given twice, is refused with one line naming it: ignoring it could pick
 * another key than the one meant. pin-value= is refused too: it would put the
 * PIN on the command line, visible in ps.
 *
 * module-path= and module-name= are query attributes in RFC 7512, but the
 * path form (pkcs11:token=t;module-path=/x.so) is written often enough, and
 * means the same, so it is taken too: such an attribute moves to the query
 * before p11-kit reads the URI (in the path, p11-kit would ignore it).
 */
#include <p11-kit/uri.h>
#include <stdlib.h>
#include <strings.h>

#include "formats/base.h"
#include "signer/signer_internal.h"

enum { IN_PATH = 1, IN_QUERY = 2 };

static const struct uri_attr {
	const char *name;
	unsigned where;  /* IN_PATH, IN_QUERY or both */
	unsigned field;  /* bytes of the blank-padded PKCS#11 field it fills; 0: none */
} attrs[] = {
	{ "token", IN_PATH, 32 },
	{ "manufacturer", IN_PATH, 32 },
	{ "serial", IN_PATH, 16 },
	{ "model", IN_PATH, 16 },
	{ "slot-id", IN_PATH, 0 },
	{ "slot-description", IN_PATH, 64 },
	{ "slot-manufacturer", IN_PATH, 32 },
	{ "library-manufacturer", IN_PATH, 32 },
	{ "library-description", IN_PATH, 32 },
	{ "library-version", IN_PATH, 0 },
	{ "object", IN_PATH, 0 },
	{ "id", IN_PATH, 0 },
	{ "type", IN_PATH, 0 },
	{ "module-path", IN_PATH | IN_QUERY, 0 },
	{ "module-name", IN_PATH | IN_QUERY, 0 },
	{ "pin-source", IN_QUERY, 0 },
};
#define NATTRS (sizeof attrs / sizeof attrs[0])

/* One name=value of the URI as written (value still percent-encoded). */
struct seg {
	const char *text;  /* name=value */
	size_t len;
	size_t name_len;
	const struct uri_attr *attr;
	bool to_query;     /* goes to p11-kit in the query */
};

/* Check one name=value (where: IN_PATH or IN_QUERY) and fill *sg. */
static int check_seg(struct hp_ctx *ctx, const char *uri, unsigned where, const char *s,
		     size_t n, bool seen[NATTRS], struct seg *sg)
{
	const char *eq = memchr(s, '=', n);
	size_t name_len = eq ? (size_t)(eq - s) : n;
	if (name_len == 0)
		return hp_err(ctx, HP_ERROR, uri, NULL, "'%.*s' is not an attribute name=value",
			      (int)n, s);
	if (!eq)
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%.*s' has no '=value'",
			      (int)name_len, s);
	if (name_len == 9 && !memcmp(s, "pin-value", 9))
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "pin-value= would show the PIN on the command line; use HP_PIN, --pin-env or --pin-file");
	size_t i;
	for (i = 0; i < NATTRS; i++)
		if (strlen(attrs[i].name) == name_len && !memcmp(attrs[i].name, s, name_len))
			break;
	if (i == NATTRS)
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "unknown attribute '%.*s'; a key is named by token, manufacturer, serial, model, slot-id, slot-description, slot-manufacturer, library-manufacturer, library-description, library-version, object, id and type, and module-path, module-name and pin-source after '?'",
			      (int)name_len, s);
	if (!(attrs[i].where & where))
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' belongs %s", attrs[i].name,
			      where == IN_PATH ? "in the query, after '?'"
					       : "in the path, before '?'");
	if (seen[i])
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' is given twice",
			      attrs[i].name);
	seen[i] = true;
	/* Only id= is bytes; a NUL in a text value would cut it short. */
	const char *v = eq + 1;
	size_t vn = n - name_len - 1;
	for (size_t k = 0; strcmp(attrs[i].name, "id") && k + 2 < vn; k++)
		if (v[k] == '%' && v[k + 1] == '0' && v[k + 2] == '0')
			return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s' holds a NUL byte",
				      attrs[i].name);
	*sg = (struct seg){ s, n, name_len, &attrs[i], (attrs[i].where & IN_QUERY) != 0 };
	return 0;
}

/* Append the segment at o; a '&' in a value moved to the query is escaped there. */
static char *put_seg(char *o, const struct seg *sg, bool moved)
{
	for (size_t k = 0; k < sg->len; k++) {
		if (moved && sg->text[k] == '&') {
			memcpy(o, "%26", 3);
			o += 3;
		} else {
			*o++ = sg->text[k];
		}
	}
	return o;
}

/* Parse one attribute alone with p11-kit; rc (negative) or 1 if it is not recognized, else 0. */
static int parse_alone(struct hp_ctx *ctx, const struct seg *sg)
{
	char *one = hp_arena_printf(ctx, "pkcs11:%s%.*s", sg->to_query ? "?" : "", (int)sg->len,
				    sg->text);
	P11KitUri *k = p11_kit_uri_new();
	if (!one || !k) {
		p11_kit_uri_free(k);
		return P11_KIT_URI_NO_MEMORY;
	}
	int rc = p11_kit_uri_parse(one, P11_KIT_URI_FOR_ANY, k);
	if (rc == P11_KIT_URI_OK && p11_kit_uri_any_unrecognized(k))
		rc = 1;
	p11_kit_uri_free(k);
	return rc;
}

/*
 * p11-kit refused the URI (rc < 0) or did not recognize part of it (rc 1):
 * find the attribute it stumbles on alone, and say why in our words.
 */
static int blame(struct hp_ctx *ctx, const char *uri, const struct seg *segs, size_t nsegs, int rc)
{
	for (size_t i = 0; i < nsegs; i++) {
		const struct seg *sg = &segs[i];
		int r = parse_alone(ctx, sg);
		if (r == 0)
			continue;
		const char *name = sg->attr->name;
		const char *v = sg->text + sg->name_len + 1;
		int vn = (int)(sg->len - sg->name_len - 1);
		if (r == P11_KIT_URI_NO_MEMORY)
			return hp_nomem(ctx);
		if (r == P11_KIT_URI_BAD_ENCODING)
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "attribute '%s': bad percent escape (%%XX, two hex digits)", name);
		if (!strcmp(name, "slot-id"))
			return hp_err(ctx, HP_ERROR, uri, NULL, "slot-id '%.*s' is not a number",
				      vn, v);
		if (!strcmp(name, "library-version"))
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "library-version '%.*s' is not MAJOR or MAJOR.MINOR", vn, v);
		if (!strcmp(name, "type"))
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "type '%.*s' is not private, public, cert, secret-key or data", vn,
				      v);
		if (r == 1 && sg->attr->field)
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "attribute '%s' is longer than the %u bytes PKCS#11 holds", name,
				      sg->attr->field);
		if (r == 1)
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "p11-kit does not recognize attribute '%s' as written", name);
		return hp_err(ctx, HP_ERROR, uri, NULL, "attribute '%s': %s", name,
			      p11_kit_uri_message(r));
	}
	return hp_err(ctx, HP_ERROR, uri, NULL, "p11-kit cannot read the URI: %s",
		      rc == 1 ? "an attribute it does not recognize" : p11_kit_uri_message(rc));
}

/* A CKA_CLASS as the type= that names it. */
static const char *class_name(CK_OBJECT_CLASS c)
{
	switch (c) {
	case CKO_PRIVATE_KEY:
		return "private";
	case CKO_PUBLIC_KEY:
		return "public";
	case CKO_CERTIFICATE:
		return "cert";
	case CKO_SECRET_KEY:
		return "secret-key";
	case CKO_DATA:
		return "data";
	}
	return "?";
}

/* Copy what pkcs11.c and the messages need out of p11-kit's parse. */
static int extract(struct hp_ctx *ctx, const char *uri, struct signer_uri *out)
{
	P11KitUri *k = out->kit;
	CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(k, CKA_LABEL);
	if (a && !(out->object = hp_arena_strndup(ctx, a->pValue, a->ulValueLen)))
		return hp_nomem(ctx);
	if ((a = p11_kit_uri_get_attribute(k, CKA_ID))) {
		uint8_t *id = hp_arena_alloc(ctx, a->ulValueLen + 1);
		if (!id)
			return hp_nomem(ctx);
		memcpy(id, a->pValue, a->ulValueLen);
		out->id = id;
		out->id_len = a->ulValueLen;
		out->has_id = true;
	}
	if ((a = p11_kit_uri_get_attribute(k, CKA_CLASS)) &&
	    a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
		CK_OBJECT_CLASS c;
		memcpy(&c, a->pValue, sizeof c);
		out->type = class_name(c);
		out->is_private = c == CKO_PRIVATE_KEY;
	}
	CK_SLOT_ID slot = p11_kit_uri_get_slot_id(k);
	if (slot != (CK_SLOT_ID)-1) {
		out->has_slot_id = true;
		out->slot_id = slot;
	}
	const char *s;
	if ((s = p11_kit_uri_get_module_path(k)) && !(out->module_path = hp_arena_strdup(ctx, s)))
		return hp_nomem(ctx);
	if ((s = p11_kit_uri_get_module_name(k)) && !(out->module_name = hp_arena_strdup(ctx, s)))
		return hp_nomem(ctx);
	if ((s = p11_kit_uri_get_pin_source(k))) {
		/* RFC 7512 allows any URI here; a file is all a signer needs. */
		const char *f = strncmp(s, "file:", 5) ? s : s + 5;
		if (f[0] != '/')
			return hp_err(ctx, HP_ERROR, uri, NULL,
				      "pin-source '%s' is not file:/ABSOLUTE/PATH", s);
		if (!(out->pin_source = hp_arena_strdup(ctx, f)))
			return hp_nomem(ctx);
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
	size_t n = strlen(uri);

	/* Every name=value, path then query; empty ones (a trailing ';') are harmless. */
	struct seg *segs = hp_arena_array(ctx, n / 2 + 1, sizeof *segs);
	if (!segs)
		return hp_nomem(ctx);
	size_t nsegs = 0;
	bool seen[NATTRS] = { false };
	for (int part = 0; part < 2; part++) {
		const char *s = part ? (q ? q + 1 : "") : path;
		size_t len = part ? strlen(s) : plen;
		char sep = part ? '&' : ';';
		for (size_t i = 0; i < len;) {
			size_t end = i;
			while (end < len && s[end] != sep)
				end++;
			if (end > i) {
				int err = check_seg(ctx, uri, part ? IN_QUERY : IN_PATH, s + i,
						    end - i, seen, &segs[nsegs]);
				if (err < 0)
					return err;
				nsegs++;
			}
			i = end + 1;
		}
	}

	/* The URI p11-kit reads: module-path= and module-name= in the query. */
	char *norm = hp_arena_alloc(ctx, 3 * n + 16), *o = norm;
	if (!norm)
		return hp_nomem(ctx);
	o += sprintf(o, "pkcs11:");
	bool first = true;
	for (size_t i = 0; i < nsegs; i++)
		if (!segs[i].to_query) {
			if (!first)
				*o++ = ';';
			o = put_seg(o, &segs[i], false);
			first = false;
		}
	first = true;
	for (size_t i = 0; i < nsegs; i++)
		if (segs[i].to_query) {
			*o++ = first ? '?' : '&';
			o = put_seg(o, &segs[i], true);
			first = false;
		}
	*o = 0;

	out->kit = p11_kit_uri_new();
	if (!out->kit)
		return hp_nomem(ctx);
	int rc = p11_kit_uri_parse(norm, P11_KIT_URI_FOR_ANY, out->kit);
	if (rc == P11_KIT_URI_OK && p11_kit_uri_any_unrecognized(out->kit))
		rc = 1;
	int err = rc ? blame(ctx, uri, segs, nsegs, rc) : extract(ctx, uri, out);
	if (err < 0)
		signer_uri_free(out);
	return err;
}

void signer_uri_free(struct signer_uri *u)
{
	if (u && u->kit) {
		p11_kit_uri_free(u->kit);
		u->kit = NULL;
	}
}
