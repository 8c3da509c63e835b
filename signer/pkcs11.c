/*
 * pkcs11.c: a private key that never leaves an HSM. Raw PKCS#11 through the
 * module's function list: the one route found to sign both Ed25519 and P-256
 * (docs/dependencies.md: the OpenSSL engine and libp11 cannot do Ed25519 and
 * fail on any token that holds such a key).
 *
 *   the module (signer_p11_module() says which): a file, dlopen ->
 *      C_GetFunctionList -> C_Initialize(CKF_OS_LOCKING_OK); or a name
 *      registered with p11-kit: p11_kit_modules_load -> p11_kit_module_for_name
 *      -> p11_kit_module_initialize. p11-kit's proxy module is a file.
 *   -> C_GetInfo, C_GetSlotList(token present), C_GetSlotInfo, C_GetTokenInfo:
 *      the one initialized token matching the URI (p11_kit_uri_match_*)
 *   -> C_OpenSession -> C_Login(CKU_USER, PIN)
 *   -> C_FindObjects {CKO_PRIVATE_KEY, CKA_LABEL=object, CKA_ID=id}: exactly one
 *   -> CKA_KEY_TYPE + CKA_EC_PARAMS: CKK_EC on prime256v1, or CKK_EC_EDWARDS
 *      on edwards25519
 *   -> the public key: CKO_PUBLIC_KEY of the same CKA_ID (or label), its
 *      CKA_EC_POINT; else the private key's CKA_EC_POINT or CKA_PUBLIC_KEY_INFO
 *   -> C_SignInit + C_Sign: CKM_EDDSA over the 88-byte message (single-part:
 *      SoftHSM 2.6 cannot do multi-part EdDSA), CKM_ECDSA over its SHA-256
 *      (SoftHSM has no CKM_ECDSA_SHA256). ECDSA comes back as raw r||s.
 */
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "formats/base.h"
#include "formats/hpx.h"
#include "signer/signer_internal.h"

struct signer_p11 {
	void *dl;                   /* dlopen handle of the module (a file) */
	CK_FUNCTION_LIST **kit;     /* p11-kit's registered modules (module-name=); f is one */
	CK_FUNCTION_LIST_PTR f;
	bool initialized;           /* we initialized f: finalize it at the end */
	struct signer_module where; /* which module, and why that one (for messages) */
	CK_SESSION_HANDLE session;
	bool has_session, logged_in;
	CK_OBJECT_HANDLE key;       /* the private key */
	char token[33];             /* its token's label, for messages */
	const char *uri;
};

static const char *rv_name(CK_RV rv, char buf[32])
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
		{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
		{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
		{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
		{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
		{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
		{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
		{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
		{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
		{ CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE" },
		{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
		{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
		{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
		{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
		{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
		{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
		{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
		{ CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED" },
		{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(buf, 32, "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

static void padded_copy(char *out, const unsigned char *field, size_t size)
{
	size_t n = size;
	while (n && (field[n - 1] == ' ' || field[n - 1] == 0))
		n--;
	memcpy(out, field, n);
	out[n] = 0;
}

/* Read one attribute of obj into a malloc'd buffer; *out NULL when the object has none. */
static CK_RV get_attr(struct signer_p11 *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
		      uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv = p->f->C_GetAttributeValue(p->session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen > 4096)
		return CKR_GENERAL_ERROR;
	a.pValue = malloc(a.ulValueLen ? a.ulValueLen : 1);
	if (!a.pValue)
		return CKR_HOST_MEMORY;
	rv = p->f->C_GetAttributeValue(p->session, obj, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*out = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* Up to 2 objects matching tmpl; *n gets how many (0, 1, or 2 meaning "more than one"). */
static CK_RV find(struct signer_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
		  CK_OBJECT_HANDLE out[2], CK_ULONG *n)
{
	*n = 0;
	CK_RV rv = p->f->C_FindObjectsInit(p->session, tmpl, ntmpl);
	if (rv != CKR_OK)
		return rv;
	rv = p->f->C_FindObjects(p->session, out, 2, n);
	p->f->C_FindObjectsFinal(p->session);
	return rv;
}

/*
 * The public point of an EC or EdDSA key from CKA_EC_POINT: a DER OCTET
 * STRING holding the point (what the standard says), or the bare point (what
 * some tokens return). P-256: 04||X||Y, 65 bytes; Ed25519: 32 bytes.
 */
static bool unwrap_point(uint16_t alg, const uint8_t *v, size_t n, const uint8_t **pt,
			 size_t *len)
{
	size_t want = alg == HPX_SIG_ED25519 ? 32 : 65;
	if (n == want + 2 && v[0] == 0x04 && v[1] == want) {
		*pt = v + 2;
		*len = want;
		return true;
	}
	if (n == want) {
		*pt = v;
		*len = want;
		return true;
	}
	return false;
}

/*
 * CKA_EC_PARAMS names the curve: the OID of prime256v1 for P-256; for
 * Ed25519 the OID 1.3.101.112 or, as pkcs11-tool 0.23 writes it, the
 * PrintableString "edwards25519" (RFC 8032 names are in PKCS#11 3.0).
 */
static int algorithm_of(CK_KEY_TYPE type, const uint8_t *params, size_t n)
{
	static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	static const uint8_t ed_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's',
					   '2',  '5',  '5', '1', '9' };
	if (type == CKK_EC && params && n == sizeof p256 && !memcmp(params, p256, n))
		return HPX_SIG_ECDSA_P256;
	if (type == CKK_EC_EDWARDS && params &&
	    ((n == sizeof ed_oid && !memcmp(params, ed_oid, n)) ||
	     (n == sizeof ed_name && !memcmp(params, ed_name, n))))
		return HPX_SIG_ED25519;
	return 0;
}

/* Find the key's public half and make an EVP_PKEY of it. */
static int read_public(struct hp_ctx *ctx, struct signer_p11 *p, uint16_t alg, EVP_PKEY **pub)
{
	char rvb[32];
	uint8_t *id = NULL, *label = NULL, *point = NULL, *spki = NULL;
	size_t id_len, label_len, point_len = 0, spki_len = 0;
	int err = 0;
	CK_RV rv;
	if ((rv = get_attr(p, p->key, CKA_ID, &id, &id_len)) != CKR_OK ||
	    (rv = get_attr(p, p->key, CKA_LABEL, &label, &label_len)) != CKR_OK) {
		err = hp_err(ctx, HP_ERROR, p->uri, NULL, "cannot read the key's id and label: %s",
			     rv_name(rv, rvb));
		goto out;
	}
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[2] = { { CKA_CLASS, &cls, sizeof cls } };
	if (id && id_len)
		tmpl[1] = (CK_ATTRIBUTE){ CKA_ID, id, id_len };
	else if (label && label_len)
		tmpl[1] = (CK_ATTRIBUTE){ CKA_LABEL, label, label_len };
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n = 0;
	if (tmpl[1].type == CKA_ID || tmpl[1].type == CKA_LABEL) {
		if ((rv = find(p, tmpl, 2, h, &n)) != CKR_OK) {
			err = hp_err(ctx, HP_ERROR, p->uri, NULL,
				     "cannot search for the public key: %s", rv_name(rv, rvb));
			goto out;
		}
	}
	/* The public key object; else what the private key itself says. */
	rv = n == 1 ? get_attr(p, h[0], CKA_EC_POINT, &point, &point_len)
		    : get_attr(p, p->key, CKA_EC_POINT, &point, &point_len);
	if (rv == CKR_OK && !point)
		rv = get_attr(p, p->key, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
	if (rv != CKR_OK) {
		err = hp_err(ctx, HP_ERROR, p->uri, NULL, "cannot read the public key: %s",
			     rv_name(rv, rvb));
		goto out;
	}
	uint8_t key_id[32];
	const uint8_t *pt;
	size_t pt_len;
	if (point) {
		if (!unwrap_point(alg, point, point_len, &pt, &pt_len)) {
			err = hp_err(ctx, HP_ECORRUPT, p->uri, NULL,
				     "the token's CKA_EC_POINT (%zu bytes) is not a %s public key",
				     point_len, signer_algorithm_name(alg));
			goto out;
		}
		err = signer_pubkey_from_raw(ctx, p->uri, alg, pt, pt_len, pub, key_id);
	} else if (spki && spki_len) {
		const unsigned char *q = spki;
		*pub = d2i_PUBKEY(NULL, &q, (long)spki_len);
		if (!*pub)
			err = hp_err(ctx, HP_ECORRUPT, p->uri, NULL,
				     "the key's CKA_PUBLIC_KEY_INFO is not a public key: %s",
				     signer_openssl_why());
	} else {
		err = hp_err(ctx, HP_ERROR, p->uri, NULL,
			     "%s: no public key object with the private key's %s, and the private key does not carry its public point; import the public key into the token",
			     p->token, id && id_len ? "CKA_ID" : "label");
	}
out:
	free(id);
	free(label);
	free(point);
	free(spki);
	return err;
}

/* Pick the one initialized token the URI names; *slot gets its slot. */
static int pick_token(struct hp_ctx *ctx, struct signer_p11 *p, const struct signer_uri *u,
		      CK_SLOT_ID *slot, CK_TOKEN_INFO *info)
{
	char rvb[32];
	CK_ULONG n = 0;
	CK_RV rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n);
	CK_SLOT_ID *slots = NULL;
	if (rv == CKR_OK && n) {
		slots = calloc(n, sizeof *slots);
		if (!slots)
			return hp_nomem(ctx);
		rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK) {
		free(slots);
		return hp_err(ctx, HP_ERROR, p->uri, NULL, "cannot list the module's slots: %s",
			      rv_name(rv, rvb));
	}
	size_t matches = 0, ntokens = 0;
	char seen[256] = "";
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO t;
		CK_SLOT_INFO s;
		if (p->f->C_GetTokenInfo(slots[i], &t) != CKR_OK ||
		    !(t.flags & CKF_TOKEN_INITIALIZED))
			continue;
		ntokens++;
		char label[33];
		padded_copy(label, t.label, sizeof t.label);
		size_t used = strlen(seen);
		if (used < sizeof seen - 40)
			snprintf(seen + used, sizeof seen - used, "%s'%s'", used ? ", " : "", label);
		/* p11-kit compares the URI's token and slot attributes (an absent one matches). */
		if ((u->has_slot_id && u->slot_id != slots[i]) ||
		    p->f->C_GetSlotInfo(slots[i], &s) != CKR_OK ||
		    !p11_kit_uri_match_slot_info(u->kit, &s) ||
		    !p11_kit_uri_match_token_info(u->kit, &t))
			continue;
		if (matches++ == 0) {
			*slot = slots[i];
			*info = t;
		}
	}
	free(slots);
	if (matches == 0)
		return hp_err(ctx, HP_ERROR, p->uri, NULL,
			      "no initialized token matches the URI in %s (%s); its tokens: %s",
			      p->where.value, signer_module_why(p->where.from),
			      ntokens ? seen : "none");
	if (matches > 1)
		return hp_err(ctx, HP_ERROR, p->uri, NULL,
			      "%zu tokens match the URI (%s); name one with token=LABEL", matches,
			      seen);
	padded_copy(p->token, info->label, sizeof info->label);
	return 0;
}

static int login(struct hp_ctx *ctx, struct signer_p11 *p, const CK_TOKEN_INFO *t,
		 const struct signer_uri *u, const struct signer_key_opts *opts)
{
	char rvb[32];
	if (!(t->flags & CKF_LOGIN_REQUIRED))
		return 0;
	char *pin = NULL;
	int err = signer_pin_read(ctx, opts, u->pin_source, &pin);
	if (err < 0)
		return err;
	if (!pin)
		return hp_err(ctx, HP_ERROR, p->uri, NULL,
			      "token '%s' needs a PIN: set HP_PIN, or give --pin-env VAR or --pin-file FILE",
			      p->token);
	CK_RV rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	signer_pin_free(pin);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		p->logged_in = rv == CKR_OK;
		return 0;
	}
	if (rv == CKR_PIN_INCORRECT)
		return hp_err(ctx, HP_ERROR, p->uri, NULL, "wrong PIN for token '%s' (%s)",
			      p->token, rv_name(rv, rvb));
	return hp_err(ctx, HP_ERROR, p->uri, NULL, "cannot log in to token '%s': %s", p->token,
		      rv_name(rv, rvb));
}

/* p11-kit's proxy module: its pkg-config variable proxy_module, from the Makefile. */
#ifndef SIGNER_P11_PROXY
#define SIGNER_P11_PROXY "p11-kit-proxy.so"
#endif

const char *signer_p11_proxy(void)
{
	return SIGNER_P11_PROXY;
}

const char *signer_module_why(enum signer_module_from from)
{
	switch (from) {
	case SIGNER_MODULE_OPTION:
		return "given by --module";
	case SIGNER_MODULE_URI_PATH:
		return "the URI's module-path=";
	case SIGNER_MODULE_URI_NAME:
		return "the URI's module-name=, registered with p11-kit";
	case SIGNER_MODULE_ENV:
		return "from PKCS11_MODULE_PATH";
	case SIGNER_MODULE_PROXY:
		return "p11-kit's proxy, the default when no module is named";
	}
	return "?";
}

/*
 * Which module holds the key; the first of these that is given wins:
 *   1. --module FILE: the operator's word for this one run, which may send a
 *      URI written elsewhere through another module (p11-kit's proxy, say).
 *   2. module-path=FILE in the URI: the URI names the key, and a module it
 *      names is part of that name. A file is exact, so it comes before
 *   3. module-name=NAME in the URI: a module registered with p11-kit (its
 *      NAME.module file in /usr/share/p11-kit/modules, /etc/pkcs11/modules or
 *      ~/.config/pkcs11/modules), which the platform's configuration maps to
 *      a file.
 *   4. $PKCS11_MODULE_PATH: the environment's default, weaker than anything
 *      written on the command line, the URI included.
 *   5. p11-kit's proxy module: what the platform offers when nothing names a
 *      module. It reaches every module registered with p11-kit, so token=
 *      alone finds the token in whichever module holds it. Last, because it
 *      loads every registered module, and two modules' tokens of the same
 *      label are then ambiguous (refused as any two matching tokens are).
 * A module that is named but cannot be loaded is an error: the search never
 * goes on to the next, whose token could hold another key of the same label.
 * env is $PKCS11_MODULE_PATH (NULL or empty: unset); proxy is p11-kit's
 * proxy module, which must exist when it is the one chosen.
 */
int signer_p11_module(struct hp_ctx *ctx, const char *uri, const struct signer_uri *u,
		      const struct signer_key_opts *opts, const char *env, const char *proxy,
		      struct signer_module *out)
{
	if (opts && opts->module)
		*out = (struct signer_module){ SIGNER_MODULE_OPTION, opts->module };
	else if (u->module_path)
		*out = (struct signer_module){ SIGNER_MODULE_URI_PATH, u->module_path };
	else if (u->module_name)
		*out = (struct signer_module){ SIGNER_MODULE_URI_NAME, u->module_name };
	else if (env && *env)
		*out = (struct signer_module){ SIGNER_MODULE_ENV, env };
	else if (proxy && (proxy[0] != '/' || access(proxy, F_OK) == 0))
		*out = (struct signer_module){ SIGNER_MODULE_PROXY, proxy };
	else
		return hp_err(ctx, HP_ERROR, uri, NULL,
			      "no PKCS#11 module: no --module, no module-path= or module-name= in the URI, PKCS11_MODULE_PATH unset, and p11-kit's proxy module %s is missing (package p11-kit-modules)",
			      proxy ? proxy : "p11-kit-proxy.so");
	return 0;
}

/* Load the module p->where names: a file with dlopen, or a name from p11-kit's registry. */
static int load_module(struct hp_ctx *ctx, struct signer_p11 *p)
{
	char rvb[32];
	const char *what = p->where.value, *why = signer_module_why(p->where.from);
	CK_RV rv;
	if (p->where.from == SIGNER_MODULE_URI_NAME) {
		/* p11-kit's messages become ours: one line, through the ctx. */
		p11_kit_be_quiet();
		p->kit = p11_kit_modules_load(NULL, 0);
		if (!p->kit)
			return hp_err(ctx, HP_ERROR, p->uri, NULL,
				      "p11-kit cannot load its registered modules: %s",
				      p11_kit_message() ? p11_kit_message() : "unknown error");
		p->f = p11_kit_module_for_name(p->kit, what);
		if (!p->f) {
			char names[256] = "";
			size_t used = 0;
			for (size_t i = 0; p->kit[i] && used < sizeof names - 40; i++) {
				char *name = p11_kit_module_get_name(p->kit[i]);
				snprintf(names + used, sizeof names - used, "%s%s",
					 used ? ", " : "", name ? name : "?");
				used = strlen(names);
				free(name);
			}
			return hp_err(ctx, HP_ERROR, p->uri, NULL,
				      "module-name=%s: no module of that name is registered with p11-kit (registered: %s)",
				      what, used ? names : "none");
		}
		/* Unloaded with the others at the end, unless pinned as the files are (below). */
		char *file = p11_kit_module_get_filename(p->f);
		void *pin = file ? dlopen(file, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) : NULL;
		if (pin)
			dlclose(pin);
		free(file);
		rv = p11_kit_module_initialize(p->f);
		if (rv != CKR_OK)
			return hp_err(ctx, HP_ERROR, p->uri, NULL,
				      "module-name=%s: p11-kit cannot initialize it: %s", what,
				      rv_name(rv, rvb));
		p->initialized = true;
		return 0;
	}
	/* RTLD_NODELETE: a module may leave handlers behind (atexit, OpenSSL's
	 * thread-locals: SoftHSM links libcrypto); unmapping it under them would
	 * crash the process later. dlclose then only drops the reference. */
	p->dl = dlopen(what, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!p->dl)
		return hp_err(ctx, HP_ERROR, what, NULL, "cannot load the PKCS#11 module (%s): %s",
			      why, dlerror());
	CK_C_GetFunctionList get_list;
	*(void **)&get_list = dlsym(p->dl, "C_GetFunctionList");
	if (!get_list || get_list(&p->f) != CKR_OK || !p->f)
		return hp_err(ctx, HP_ERROR, what, NULL,
			      "not a PKCS#11 module (%s): no usable C_GetFunctionList", why);
	CK_C_INITIALIZE_ARGS init = { 0 };
	init.flags = CKF_OS_LOCKING_OK;
	rv = p->f->C_Initialize(&init);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return hp_err(ctx, HP_ERROR, what, NULL, "C_Initialize failed (%s): %s", why,
			      rv_name(rv, rvb));
	p->initialized = rv == CKR_OK;
	return 0;
}

int signer_p11_open(struct hp_ctx *ctx, const char *uri, const struct signer_key_opts *opts,
		    struct signer_p11 **out, uint16_t *alg, EVP_PKEY **pub)
{
	char rvb[32];
	*out = NULL;
	*pub = NULL;
	struct signer_uri u;
	int err = signer_uri_parse(ctx, uri, &u);
	if (err < 0)
		return err;
	struct signer_p11 *p = NULL;
	if (u.type && !u.is_private) {
		err = hp_err(ctx, HP_ERROR, uri, NULL,
			     "type=%s names no private key; only a private key signs", u.type);
		goto fail;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		err = hp_nomem(ctx);
		goto fail;
	}
	p->uri = uri;
	CK_RV rv;
	if ((err = signer_p11_module(ctx, uri, &u, opts, getenv("PKCS11_MODULE_PATH"),
				     signer_p11_proxy(), &p->where)) < 0 ||
	    (err = load_module(ctx, p)) < 0)
		goto fail;
	/* The URI's library-* attributes against the module's C_GetInfo (none: any module). */
	CK_INFO info;
	if (p->f->C_GetInfo(&info) != CKR_OK || !p11_kit_uri_match_module_info(u.kit, &info)) {
		err = hp_err(ctx, HP_ERROR, uri, NULL,
			     "the module %s (%s) is not the library the URI names", p->where.value,
			     signer_module_why(p->where.from));
		goto fail;
	}
	CK_SLOT_ID slot = 0;
	CK_TOKEN_INFO tinfo;
	if ((err = pick_token(ctx, p, &u, &slot, &tinfo)) < 0)
		goto fail;
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &p->session);
	if (rv != CKR_OK) {
		err = hp_err(ctx, HP_ERROR, uri, NULL, "cannot open a session on token '%s': %s",
			     p->token, rv_name(rv, rvb));
		goto fail;
	}
	p->has_session = true;
	if ((err = login(ctx, p, &tinfo, &u, opts)) < 0)
		goto fail;

	/* The one private key the URI names. */
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3] = { { CKA_CLASS, &cls, sizeof cls } };
	CK_ULONG nt = 1;
	if (u.object)
		tmpl[nt++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)u.object, strlen(u.object) };
	if (u.has_id)
		tmpl[nt++] = (CK_ATTRIBUTE){ CKA_ID, (void *)u.id, u.id_len };
	CK_OBJECT_HANDLE h[2];
	CK_ULONG n;
	if ((rv = find(p, tmpl, nt, h, &n)) != CKR_OK) {
		err = hp_err(ctx, HP_ERROR, uri, NULL, "cannot search token '%s': %s", p->token,
			     rv_name(rv, rvb));
		goto fail;
	}
	if (n == 0) {
		err = hp_err(ctx, HP_ERROR, uri, NULL, "no private key on token '%s' matches the URI",
			     p->token);
		goto fail;
	}
	if (n > 1) {
		err = hp_err(ctx, HP_ERROR, uri, NULL,
			     "several private keys on token '%s' match; name one with object= or id=",
			     p->token);
		goto fail;
	}
	p->key = h[0];
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE ta = { CKA_KEY_TYPE, &type, sizeof type };
	uint8_t *params = NULL;
	size_t plen = 0;
	if ((rv = p->f->C_GetAttributeValue(p->session, p->key, &ta, 1)) != CKR_OK ||
	    (rv = get_attr(p, p->key, CKA_EC_PARAMS, &params, &plen)) != CKR_OK) {
		err = hp_err(ctx, HP_ERROR, uri, NULL, "cannot read the key's type: %s",
			     rv_name(rv, rvb));
		goto fail;
	}
	int a = algorithm_of(type, params, plen);
	free(params);
	if (!a) {
		err = hp_err(ctx, HP_EUNSUPPORTED, uri, NULL,
			     "the key is of type 0x%lx; only Ed25519 and ECDSA P-256 keys are supported",
			     (unsigned long)type);
		goto fail;
	}
	*alg = (uint16_t)a;
	if ((err = read_public(ctx, p, *alg, pub)) < 0)
		goto fail;
	*out = p;
	signer_uri_free(&u);
	return 0;
fail:
	signer_p11_free(p);
	signer_uri_free(&u);
	return err;
}

int signer_p11_sign(struct hp_ctx *ctx, struct signer_p11 *p, uint16_t alg, const uint8_t *msg,
		    size_t n, uint8_t *out, size_t *out_len)
{
	char rvb[32];
	uint8_t digest[32];
	CK_MECHANISM mech = { alg == HPX_SIG_ED25519 ? CKM_EDDSA : CKM_ECDSA, NULL, 0 };
	const uint8_t *data = msg;
	if (alg == HPX_SIG_ECDSA_P256) {
		hp_sha256(msg, n, digest);
		data = digest;
		n = 32;
	}
	CK_ULONG len = HPX_SIG_MAX;
	CK_RV rv = p->f->C_SignInit(p->session, &mech, p->key);
	if (rv == CKR_OK)
		rv = p->f->C_Sign(p->session, (CK_BYTE_PTR)data, n, out, &len);
	if (rv != CKR_OK)
		return hp_err(ctx, HP_ERROR, p->uri, NULL, "token '%s' cannot sign with %s: %s",
			      p->token, alg == HPX_SIG_ED25519 ? "CKM_EDDSA" : "CKM_ECDSA",
			      rv_name(rv, rvb));
	*out_len = len;
	return 0;
}

void signer_p11_free(struct signer_p11 *p)
{
	if (!p)
		return;
	if (p->logged_in)
		p->f->C_Logout(p->session);
	if (p->has_session)
		p->f->C_CloseSession(p->session);
	if (p->initialized && p->kit)
		p11_kit_module_finalize(p->f);
	else if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->kit)
		p11_kit_modules_release(p->kit);
	if (p->dl)
		dlclose(p->dl);
	free(p);
}
