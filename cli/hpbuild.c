/*
 * hpbuild: build a live patch from two builds of the same objects.
 *
 *   hpbuild OLD.o NEW.o [OLD2.o NEW2.o ...] -o FIX.hpx
 *   hpbuild --old-dir A --new-dir B -o FIX.hpx
 *
 * For each pair: read, compare (the differ's passes), collect what the changed
 * functions need; then link all of it into one image, check it against the
 * target binary when given one, and write the container atomically. The driver
 * is the list of passes; the work is in differ/, linker/ and formats/.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"
#include "formats/hpx.h"
#include "linker/linker.h"
#include "signer/signer.h"

enum { EXIT_WRITTEN = 0, EXIT_ERROR = 1, EXIT_REFUSED = 2, EXIT_NO_CHANGE = 3 };

static const char usage[] =
	"usage: hpbuild [options] OLD.o NEW.o [OLD2.o NEW2.o ...] -o FIX.hpx\n"
	"       hpbuild [options] --old-dir DIR --new-dir DIR -o FIX.hpx\n"
	"Build a live patch holding exactly the functions that changed between two\n"
	"builds of the same objects.\n"
	"\n"
	"  -o, --output FILE     the patch to write (written atomically)\n"
	"  --old-dir DIR         the running build's objects (pairs *.o by relative path)\n"
	"  --new-dir DIR         the fixed build's objects\n"
	"  --target BINARY       bind the patch to BINARY's build-id and check that the\n"
	"                        old objects are the ones linked into it\n"
	"  --sequence N          anti-rollback sequence number (default 1)\n"
	"  --json FILE           write a machine-readable report to FILE\n"
	"  --sign KEY            sign the patch as hpsign does: a PEM private key or a\n"
	"                        pkcs11: URI; --module, --pin-env, --pin-file as for hpsign\n"
	"  -q, --quiet           print nothing but errors\n"
	"  -v, --verbose         print what changed and what the patch holds\n"
	"  -h, --help            print this help\n"
	"  --version             print the version\n"
	"\n"
	"SOURCE_DATE_EPOCH, when set, is recorded as the creation time.\n"
	"Exit status: 0 patch written, 1 error, 2 refused as unsafe (every reason is\n"
	"listed), 3 no change (nothing written).\n";

struct opts {
	const char *output, *old_dir, *new_dir, *target, *json;
	const char *sign;               /* --sign KEY, or NULL */
	struct signer_key_opts key;     /* --module, --pin-env, --pin-file */
	uint64_t sequence;
	bool quiet;
	int verbose;
};

/* One object pair and everything the passes know about it. */
struct pair {
	const char *old_path, *new_path, *name;
	struct obj *old, *new;
	struct differ_closure closure;
	struct differ_findings findings;
	struct differ_report report;
	bool identical;          /* byte-identical files: skipped */
};

/* ----- pairing objects of two trees ---------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static int add_name(struct hp_ctx *ctx, struct names *ns, const char *rel)
{
	if (hp_grow(ctx, &ns->v, &ns->cap, ns->n, sizeof *ns->v, 64) < 0)
		return -HP_ENOMEM;
	ns->v[ns->n] = hp_arena_strdup(ctx, rel);
	if (!ns->v[ns->n])
		return hp_nomem(ctx);
	ns->n++;
	return 0;
}

/* Every regular file under dir/rel ending in ".o", as paths relative to dir. */
static int walk(struct hp_ctx *ctx, const char *dir, const char *rel, struct names *out, int depth)
{
	char *path = hp_arena_printf(ctx, "%s%s%s", dir, rel[0] ? "/" : "", rel);
	if (!path)
		return hp_nomem(ctx);
	DIR *d = opendir(path);
	if (!d)
		return hp_err(ctx, HP_ERROR, path, NULL, "cannot read directory: %s", strerror(errno));
	int err = 0;
	struct dirent *e;
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		char *sub = hp_arena_printf(ctx, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		char *full = hp_arena_printf(ctx, "%s/%s", dir, sub ? sub : "");
		struct stat st;
		if (!sub || !full) {
			err = hp_nomem(ctx);
		} else if (stat(full, &st) < 0) {
			err = hp_err(ctx, HP_ERROR, full, NULL, "cannot stat: %s", strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth < 64)
				err = walk(ctx, dir, sub, out, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			size_t len = strlen(sub);
			if (len > 2 && !strcmp(sub + len - 2, ".o"))
				err = add_name(ctx, out, sub);
		}
	}
	closedir(d);
	return err;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when both files have the same bytes (an unchanged object is skipped fast). */
static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0 || sa.st_size != sb.st_size)
		return false;
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	char ba[65536], bb[65536];
	while (same) {
		size_t na = fread(ba, 1, sizeof ba, fa), nb = fread(bb, 1, sizeof bb, fb);
		if (na != nb || memcmp(ba, bb, na))
			same = false;
		if (na < sizeof ba)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static int pairs_from_dirs(struct hp_ctx *ctx, const struct opts *o, struct pair **out, size_t *n)
{
	struct names ns = { 0 };
	int err = walk(ctx, o->new_dir, "", &ns, 0);
	if (err < 0)
		goto out;
	if (ns.n == 0) {
		err = hp_err(ctx, HP_ERROR, o->new_dir, NULL, "no .o files under this directory");
		goto out;
	}
	qsort(ns.v, ns.n, sizeof *ns.v, cmp_strp);
	struct pair *p = hp_arena_array(ctx, ns.n, sizeof *p);
	if (!p) {
		err = hp_nomem(ctx);
		goto out;
	}
	for (size_t i = 0; i < ns.n; i++) {
		p[i].name = ns.v[i];
		p[i].old_path = hp_arena_printf(ctx, "%s/%s", o->old_dir, ns.v[i]);
		p[i].new_path = hp_arena_printf(ctx, "%s/%s", o->new_dir, ns.v[i]);
		if (!p[i].old_path || !p[i].new_path) {
			err = hp_nomem(ctx);
			goto out;
		}
		struct stat st;
		if (stat(p[i].old_path, &st) < 0)
			err = hp_err(ctx, HP_EUNPATCHABLE, p[i].new_path, NULL,
				     "has no counterpart %s; a new translation unit cannot be added to a running process",
				     p[i].old_path);
		else
			p[i].identical = same_file(p[i].old_path, p[i].new_path);
	}
	*out = p;
	*n = ns.n;
out:
	free(ns.v);
	return err;
}

/* ----- the passes for one pair --------------------------------------------- */

static int diff_pair(struct hp_ctx *ctx, struct pair *p)
{
	int err, err2;
	err = obj_read_elf(ctx, p->old_path, &p->old);
	err2 = obj_read_elf(ctx, p->new_path, &p->new);
	if (err < 0 || err2 < 0)
		return err < 0 ? err : err2;
	/* Recover the references the assembler resolved (no -ffunction-sections). */
	err = differ_recover(ctx, p->old);
	err2 = differ_recover(ctx, p->new);
	if (err < 0 || err2 < 0)
		return err < 0 ? err : err2;
	/* Pair each section and symbol of new with its twin in old. */
	if ((err = differ_correlate(ctx, p->old, p->new)) < 0)
		return err;
	/* Mark functions and data SAME/CHANGED/NEW/REMOVED; relocated fields do not count. */
	if ((err = differ_compare(ctx, p->old, p->new)) < 0)
		return err;
	/* Refuse what a running process cannot absorb: changed data, layouts, signatures,
	 * constructors, TLS (every reason at once). Tables the compiler made travel. */
	int refused = differ_check_layout(ctx, p->old, p->new, HP_LEVEL_ERROR, &p->findings);
	if (refused < 0 && refused != -HP_EUNPATCHABLE)
		return refused;
	if ((err = differ_report_build(ctx, p->old, p->new, &p->report)) < 0)
		return err;
	p->report.findings = &p->findings;
	if (refused < 0)
		return refused;
	/* What the changed code needs travels with it; the rest is found in the process. */
	return differ_collect(ctx, p->old, p->new, &p->closure);
}

/*
 * Code of one object that refers to a function or variable new in another
 * (a new helper in util.c that the fix in parse.c calls) cannot find it in the
 * process: it travels in the patch, with what it needs, and the linker binds
 * the reference to it there, as the static linker would have. Repeated until
 * no closure grows, since what was added may refer to what is new elsewhere.
 */
/* Where a global that is new in this patch is defined: its pair, and a second
 * pair that defines it too (which ld would refuse), if any. */
struct new_global {
	size_t pair, other;
	struct obj_sym *sym;
	bool reported;
};

static int link_cross_object(struct hp_ctx *ctx, struct pair *pairs, size_t n)
{
	struct hp_map defs; /* name -> struct new_global */
	int err = hp_map_init(ctx, &defs, 64);
	if (err < 0)
		return err;
	for (size_t b = 0; b < n; b++) {
		if (pairs[b].identical)
			continue;
		struct obj *o = pairs[b].new;
		for (size_t i = 1; i < o->nsyms; i++) {
			struct obj_sym *d = &o->syms[i];
			if (d->status != OBJ_NEW || d->bind == STB_LOCAL || !d->sec || !d->name[0])
				continue;
			struct new_global *g = hp_map_get(&defs, d->name);
			if (g) {
				if (g->other == SIZE_MAX && g->pair != b)
					g->other = b;
				continue;
			}
			if (!(g = hp_arena_array(ctx, 1, sizeof *g)))
				return hp_nomem(ctx);
			*g = (struct new_global){ b, SIZE_MAX, d, false };
			if ((err = hp_map_put(ctx, &defs, d->name, g, NULL)) < 0)
				return err;
		}
	}
	if (defs.len == 0)
		return 0;
	int refused = 0;
	for (bool grew = true; grew;) {
		grew = false;
		for (size_t a = 0; a < n; a++) {
			if (pairs[a].identical)
				continue;
			const struct differ_closure *c = &pairs[a].closure;
			for (size_t i = 0; i < c->nitems; i++) {
				const struct obj_sec *sec = c->items[i].sec;
				uint64_t end = c->items[i].start + c->items[i].size;
				for (size_t k = obj_rel_lower_bound(sec, c->items[i].start);
				     k < sec->nrels && sec->rels[k].offset < end; k++) {
					const struct obj_sym *s = sec->rels[k].sym;
					struct new_global *g;
					if (s->sec || !s->name[0] || !(g = hp_map_get(&defs, s->name)) ||
					    g->pair == a || g->sym->include || g->reported)
						continue;
					if (g->other != SIZE_MAX) {
						refused = hp_err(
							ctx, HP_EUNPATCHABLE, pairs[g->other].new_path, s->name,
							"new global, also defined in %s; the static linker would refuse it too",
							pairs[g->pair].new_path);
						g->reported = true;
						continue;
					}
					err = differ_collect_add(ctx, pairs[g->pair].new, &pairs[g->pair].closure,
								 g->sym);
					if (err == -HP_EUNPATCHABLE)
						refused = err;
					else if (err < 0)
						return err;
					grew = true;
				}
			}
		}
	}
	return refused;
}

/* ----- checking the target binary ------------------------------------------ */

#define TARGET_STRIPPED \
	" (it is stripped: give --target the binary before strip; processes may run the stripped copy)"

static int check_target(struct hp_ctx *ctx, const char *path, struct hpx *h)
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

/* ----- reports -------------------------------------------------------------- */

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static void print_summary(FILE *f, const struct opts *o, const struct hpx *h, size_t size)
{
	fprintf(f, "hpbuild: %s: %zu function%s replaced, %zu symbols, %llu bytes of image, %zu bytes; patch ",
		o->output, h->nfuncs, h->nfuncs == 1 ? "" : "s", h->nsyms,
		(unsigned long long)h->image_size, size);
	hex(f, h->patch_id, 16);
	fputc('\n', f);
}

static int write_json(struct hp_ctx *ctx, const struct opts *o, struct pair *pairs, size_t n,
		      const struct hpx *h, size_t size, int rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return hp_nomem(ctx);
	static const char *const verdicts[] = { "written", "error", "refused", "no change" };
	fprintf(f, "{\n  \"format\": \"hpbuild-report\",\n  \"version\": 1,\n  \"verdict\": \"%s\",\n",
		verdicts[rc]);
	fputs("  \"output\": ", f);
	hp_json_string(f, o->output ? o->output : "");
	if (rc == EXIT_WRITTEN) {
		fprintf(f, ",\n  \"size\": %zu,\n  \"patch_id\": \"", size);
		hex(f, h->patch_id, 16);
		fputs("\",\n  \"functions\": [", f);
		for (size_t i = 0; i < h->nfuncs; i++) {
			fputs(i ? ", " : "", f);
			hp_json_string(f, h->funcs[i].name);
		}
		fputs("]", f);
	}
	fputs(",\n  \"diagnostics\": [", f);
	for (size_t i = 0; i < ctx->ndiags; i++) {
		fputs(i ? ",\n    " : "\n    ", f);
		hp_json_string(f, ctx->diags[i].text);
	}
	fputs("],\n  \"objects\": [", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n    {\"old\": ", i ? "," : "");
		hp_json_string(f, pairs[i].old_path);
		fputs(", \"new\": ", f);
		hp_json_string(f, pairs[i].new_path);
		fprintf(f, ", \"identical\": %s", pairs[i].identical ? "true" : "false");
		if (pairs[i].report.entries) {
			fputs(", \"report\": ", f);
			differ_report_json(f, &pairs[i].report);
		}
		fputs("}", f);
	}
	fputs("\n  ]\n}\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return hp_nomem(ctx);
	}
	int err = hp_write_file_atomic(ctx, o->json, buf, len);
	free(buf);
	return err;
}

/* ----- main ------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct opts *o, struct hp_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "old-dir", required_argument, NULL, 'O' },
		{ "new-dir", required_argument, NULL, 'N' },
		{ "target", required_argument, NULL, 't' },
		{ "sequence", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "sign", required_argument, NULL, 'S' },
		{ "module", required_argument, NULL, 'M' },
		{ "pin-env", required_argument, NULL, 'E' },
		{ "pin-file", required_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	o->sequence = 1;
	int c;
	while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'O':
			o->old_dir = optarg;
			break;
		case 'N':
			o->new_dir = optarg;
			break;
		case 't':
			o->target = optarg;
			break;
		case 's': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0 || optarg[0] == '-') {
				fprintf(stderr, "hpbuild: --sequence: '%s' is not a number from 1 up\n",
					optarg);
				return -1;
			}
			o->sequence = v;
			break;
		}
		case 'j':
			o->json = optarg;
			break;
		case 'S':
			o->sign = optarg;
			break;
		case 'M':
			o->key.module = optarg;
			break;
		case 'E':
			o->key.pin_env = optarg;
			break;
		case 'F':
			o->key.pin_file = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			ctx->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case 'V':
			cli_print_version("hpbuild");
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	int nfiles = argc - optind;
	const char *problem = NULL;
	if (!o->output)
		problem = "no output file (-o FIX.hpx)";
	else if (!o->old_dir != !o->new_dir)
		problem = "--old-dir and --new-dir go together";
	else if (o->old_dir && nfiles)
		problem = "give either object pairs or --old-dir/--new-dir, not both";
	else if (!o->old_dir && (nfiles == 0 || nfiles % 2))
		problem = "objects come in pairs: OLD.o NEW.o";
	if (problem) {
		fprintf(stderr, "hpbuild: %s\n%s", problem, usage);
		return -1;
	}
	return 0;
}

static uint64_t creation_time(struct hp_ctx *ctx)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	if (!e || !*e)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(e, &end, 10);
	if (errno || *end || e[0] == '-') {
		hp_warn(ctx, NULL, NULL, "SOURCE_DATE_EPOCH '%s' is not a number; not recorded", e);
		return 0;
	}
	return v;
}

int main(int argc, char **argv)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "hpbuild");
	struct opts o = { 0 };
	if (parse_args(argc, argv, &o, &ctx) < 0)
		return EXIT_ERROR;

	struct pair *pairs = NULL;
	size_t npairs = 0;
	struct hpx h = { 0 };
	uint8_t *file = NULL;
	size_t size = 0;
	int rc = EXIT_ERROR, err = 0;
	bool json_done = false; /* the --json report holds the final verdict */

	if (o.old_dir) {
		err = pairs_from_dirs(&ctx, &o, &pairs, &npairs);
	} else {
		npairs = (size_t)(argc - optind) / 2;
		pairs = hp_arena_array(&ctx, npairs, sizeof *pairs);
		if (!pairs)
			err = hp_nomem(&ctx);
		for (size_t i = 0; pairs && i < npairs; i++) {
			pairs[i].old_path = argv[optind + 2 * i];
			pairs[i].new_path = pairs[i].name = argv[optind + 2 * i + 1];
		}
	}
	if (err < 0)
		goto out;

	/* Compare each pair and collect what its changed functions need. */
	bool refused = false;
	for (size_t i = 0; i < npairs; i++) {
		if (pairs[i].identical)
			continue;
		err = diff_pair(&ctx, &pairs[i]);
		if (err == -HP_EUNPATCHABLE)
			refused = true;
		else if (err < 0)
			goto out;
	}
	if (!refused && (err = link_cross_object(&ctx, pairs, npairs)) < 0) {
		if (err != -HP_EUNPATCHABLE)
			goto out;
		refused = true;
	}
	if (refused) {
		err = -HP_EUNPATCHABLE;
		goto out;
	}
	size_t nchanged = 0;
	for (size_t i = 0; i < npairs; i++)
		for (size_t k = 0; k < pairs[i].closure.nitems; k++)
			nchanged += pairs[i].closure.items[k].replaces;
	if (o.verbose)
		for (size_t i = 0; i < npairs; i++) {
			if (pairs[i].identical) {
				printf("== %s: identical, skipped\n", pairs[i].name);
				continue;
			}
			printf("== %s\n", pairs[i].name);
			differ_report_text(stdout, &pairs[i].report, false);
		}
	if (nchanged == 0) {
		rc = EXIT_NO_CHANGE;
		if (!o.quiet)
			fprintf(stderr, "hpbuild: no function changed; nothing written\n");
		goto out;
	}

	/* Lay out everything that travels into one image; from here on, old objects are
	 * only read through twins. */
	struct linker_input *in = hp_arena_array(&ctx, npairs, sizeof *in);
	size_t nin = 0;
	if (!in) {
		err = hp_nomem(&ctx);
		goto out;
	}
	for (size_t i = 0; i < npairs; i++)
		if (!pairs[i].identical && pairs[i].closure.nitems)
			in[nin++] = (struct linker_input){ pairs[i].old, pairs[i].new, pairs[i].name,
							   &pairs[i].closure };
	if ((err = linker_build(&ctx, in, nin, &h)) < 0)
		goto out;
	h.sequence = o.sequence;
	h.created = creation_time(&ctx);
	h.tool_version = "hpbuild " HP_VERSION;
	h.target_name = "";
	/* Bind to the binary and prove the old objects are in it. */
	if (o.target && (err = check_target(&ctx, o.target, &h)) < 0)
		goto out;
	if ((err = hpx_write(&ctx, &h, &file, &size)) < 0)
		goto out;
	/* --sign: the block hpsign would append, before anything is written. */
	if (o.sign) {
		struct signer_key *key = NULL;
		if ((err = signer_key_open(&ctx, &key, o.sign, &o.key)) == 0)
			err = signer_append(&ctx, &file, &size, key, o.output);
		signer_key_free(key);
		if (err < 0)
			goto out;
	}
	/* The report first, saying "written": if it cannot be written, the patch is
	 * not either, so a failed run never leaves a patch behind. If the patch
	 * then cannot be written, the report is written again, saying so. */
	if (o.json && (err = write_json(&ctx, &o, pairs, npairs, &h, size, EXIT_WRITTEN)) < 0) {
		json_done = true;
		goto out;
	}
	if ((err = hp_write_file_atomic(&ctx, o.output, file, size)) < 0)
		goto out;
	rc = EXIT_WRITTEN;
	json_done = true;
	if (o.verbose) {
		for (size_t i = 0; i < h.nfuncs; i++)
			printf("replaces %s%s%s (%llu bytes) with %llu bytes at +%#llx\n", h.funcs[i].name,
			       h.funcs[i].file[0] ? " in " : "", h.funcs[i].file,
			       (unsigned long long)h.funcs[i].old_size,
			       (unsigned long long)h.funcs[i].new_size,
			       (unsigned long long)h.funcs[i].new_offset);
		print_summary(stdout, &o, &h, size);
	}
out:
	if (err == -HP_EUNPATCHABLE)
		rc = EXIT_REFUSED;
	if (o.json && !json_done)
		write_json(&ctx, &o, pairs, npairs, &h, size, rc);
	fflush(stdout);
	cli_print_diags(&ctx, stderr);
	free(file);
	for (size_t i = 0; i < npairs; i++) {
		obj_free(pairs[i].old);
		obj_free(pairs[i].new);
	}
	hp_ctx_fini(&ctx);
	return rc;
}
