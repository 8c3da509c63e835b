/*
 * report.c: the verdicts of the differ as a list of entries, printed as text
 * for people or as JSON for programs (the JSON is specified in
 * differ/report-format.md and is stable).
 */
#include <elf.h>
#include <stdlib.h>

#include "differ/differ.h"
#include "formats/base.h"
#include "formats/elfread.h"

static int cmp_entry(const void *a, const void *b)
{
	const struct differ_entry *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int r = strcmp(x->name, y->name);
	if (r)
		return r;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	/* Two statics of one name (ld -r objects): keep symbol-table order. */
	const struct obj_sym *sx = x->new ? x->new : x->old, *sy = y->new ? y->new : y->old;
	return sx->index < sy->index ? -1 : sx->index > sy->index;
}

static bool reported(const struct obj_sym *s)
{
	return obj_sym_is_func(s) || obj_sym_is_data(s);
}

int differ_report_build(struct hp_ctx *ctx, const struct obj *old, const struct obj *new,
			struct differ_report *out)
{
	memset(out, 0, sizeof *out);
	out->old_path = old->path;
	out->new_path = new->path;
	size_t n = 0;
	for (size_t i = 1; i < new->nsyms; i++)
		n += reported(&new->syms[i]);
	for (size_t i = 1; i < old->nsyms; i++)
		n += reported(&old->syms[i]) && old->syms[i].status == OBJ_REMOVED;
	out->entries = hp_arena_array(ctx, n, sizeof *out->entries);
	if (!out->entries)
		return hp_nomem(ctx);

	for (size_t i = 1; i < new->nsyms; i++) {
		const struct obj_sym *s = &new->syms[i];
		if (!reported(s))
			continue;
		struct differ_entry *e = &out->entries[out->nentries++];
		e->kind = obj_sym_is_func(s) ? DIFFER_FUNC : DIFFER_OBJECT;
		e->status = s->status;
		e->name = s->name;
		e->new = s;
		e->old = s->status == OBJ_NEW ? NULL : s->twin;
		if (e->old && strcmp(e->old->name, s->name))
			e->old_name = e->old->name;
		e->line_only = s->status == OBJ_SAME && s->line_only;
		e->why = s->status == OBJ_CHANGED || e->line_only ? s->why : NULL;
		e->part_of = s->parent ? s->parent->name : NULL;
		if (e->kind == DIFFER_FUNC && s->aux) {
			const struct differ_func_info *info = s->aux;
			e->inlines = info->inlines;
			e->ninlines = info->ninlines;
		}
	}
	for (size_t i = 1; i < old->nsyms; i++) {
		const struct obj_sym *s = &old->syms[i];
		if (!reported(s) || s->status != OBJ_REMOVED)
			continue;
		struct differ_entry *e = &out->entries[out->nentries++];
		e->kind = obj_sym_is_func(s) ? DIFFER_FUNC : DIFFER_OBJECT;
		e->status = OBJ_REMOVED;
		e->name = s->name;
		e->old = s;
		e->part_of = s->parent ? s->parent->name : NULL;
	}
	qsort(out->entries, out->nentries, sizeof *out->entries, cmp_entry);
	for (size_t i = 0; i < out->nentries; i++) {
		const struct differ_entry *e = &out->entries[i];
		if (e->kind == DIFFER_FUNC)
			out->nfunc[e->status]++, out->nline_only += e->line_only;
		else
			out->ndata[e->status]++;
	}
	return 0;
}

bool differ_report_has_changes(const struct differ_report *r)
{
	for (int st = OBJ_CHANGED; st <= OBJ_REMOVED; st++)
		if (r->nfunc[st] || r->ndata[st])
			return true;
	return false;
}

static const char *kind_name(enum differ_kind k)
{
	return k == DIFFER_FUNC ? "func" : "object";
}

/* The free-text explanation of an entry: why, cold part, inlines, rename. */
static void print_explanation(FILE *f, const struct differ_entry *e)
{
	const char *sep = "";
	if (e->why) {
		fputs(e->why, f);
		sep = "; ";
	}
	if (e->old_name) {
		fprintf(f, "%swas %s", sep, e->old_name);
		sep = "; ";
	}
	if (e->part_of) {
		fprintf(f, "%scold part of %s", sep, e->part_of);
		sep = "; ";
	}
	if (e->ninlines) {
		fprintf(f, "%sinlines ", sep);
		for (size_t k = 0; k < e->ninlines; k++)
			fprintf(f, "%s%s%s", k ? ", " : "", e->inlines[k].name,
				e->inlines[k].changed ? " (changed)" : "");
	}
}

void differ_report_text(FILE *f, const struct differ_report *r, bool all)
{
	static const enum obj_status order[] = { OBJ_CHANGED, OBJ_NEW, OBJ_REMOVED, OBJ_SAME };
	for (size_t o = 0; o < 4; o++) {
		if (order[o] == OBJ_SAME && !all && !r->nline_only)
			break;
		for (size_t i = 0; i < r->nentries; i++) {
			const struct differ_entry *e = &r->entries[i];
			if (e->status != order[o])
				continue;
			/* Functions whose only difference is line numbers are shown: a
			 * reviewer should see they were looked at. */
			if (e->status == OBJ_SAME && !all && !e->line_only)
				continue;
			bool explained = e->why || e->old_name || e->part_of || e->ninlines;
			if (explained) {
				fprintf(f, "%-8s %-6s %-24s ", obj_status_name(e->status),
					kind_name(e->kind), e->name);
				print_explanation(f, e);
			} else {
				fprintf(f, "%-8s %-6s %s", obj_status_name(e->status), kind_name(e->kind),
					e->name);
			}
			fputc('\n', f);
		}
	}
	fprintf(f, "summary: functions %zu changed, %zu new, %zu removed, %zu same", r->nfunc[OBJ_CHANGED],
		r->nfunc[OBJ_NEW], r->nfunc[OBJ_REMOVED], r->nfunc[OBJ_SAME]);
	if (r->nline_only)
		fprintf(f, " (%zu line-only)", r->nline_only);
	fprintf(f, "; data %zu changed, %zu new, %zu removed, %zu same\n", r->ndata[OBJ_CHANGED],
		r->ndata[OBJ_NEW], r->ndata[OBJ_REMOVED], r->ndata[OBJ_SAME]);
}

static void json_sym(FILE *f, const char *key, const struct obj_sym *s)
{
	fprintf(f, ", \"%s\": {\"section\": ", key);
	hp_json_string(f, s->sec ? s->sec->name : "COMMON");
	fprintf(f, ", \"offset\": %llu, \"size\": %llu, \"binding\": \"%s\"}",
		(unsigned long long)s->value, (unsigned long long)s->size,
		s->bind == STB_LOCAL ? "local" : s->bind == STB_WEAK ? "weak" : "global");
}

static void json_counts(FILE *f, const size_t *c)
{
	fprintf(f, "{\"changed\": %zu, \"new\": %zu, \"removed\": %zu, \"same\": %zu}",
		c[OBJ_CHANGED], c[OBJ_NEW], c[OBJ_REMOVED], c[OBJ_SAME]);
}

/* A string field, or nothing when s is NULL. */
static void json_opt(FILE *f, const char *key, const char *s)
{
	if (!s)
		return;
	fprintf(f, ", \"%s\": ", key);
	hp_json_string(f, s);
}

static void json_finding(FILE *f, const struct differ_finding *x, size_t i)
{
	fprintf(f, "%s\n    {\"rule\": \"%s\", \"file\": ", i ? "," : "", differ_rule_name(x->rule));
	hp_json_string(f, x->file ? x->file : "");
	json_opt(f, "symbol", x->symbol);
	json_opt(f, "entity", x->entity);
	json_opt(f, "via", x->via);
	if (x->decl_file) {
		fputs(", \"declared\": {\"file\": ", f);
		hp_json_string(f, x->decl_file);
		fprintf(f, ", \"line\": %u}", x->decl_line);
	}
	fputs(", \"changes\": [", f);
	for (size_t k = 0; k < x->nchanges; k++) {
		const struct differ_change *c = &x->changes[k];
		fputs(k ? ", {\"what\": " : "{\"what\": ", f);
		hp_json_string(f, c->what);
		json_opt(f, "member", c->member);
		json_opt(f, "old", c->old);
		json_opt(f, "new", c->new);
		fputc('}', f);
	}
	fputs("], \"message\": ", f);
	hp_json_string(f, x->text);
	fputc('}', f);
}

void differ_report_json(FILE *f, const struct differ_report *r)
{
	fputs("{\n  \"format\": \"hpdiff-report\",\n  \"version\": 1,\n  \"old\": ", f);
	hp_json_string(f, r->old_path);
	fputs(",\n  \"new\": ", f);
	hp_json_string(f, r->new_path);
	fputs(",\n  \"summary\": {\"functions\": ", f);
	json_counts(f, r->nfunc);
	fprintf(f, ", \"line_only\": %zu", r->nline_only);
	fputs(", \"data\": ", f);
	json_counts(f, r->ndata);
	fputs("},\n  \"entries\": [", f);
	for (size_t i = 0; i < r->nentries; i++) {
		const struct differ_entry *e = &r->entries[i];
		fprintf(f, "%s\n    {\"kind\": \"%s\", \"status\": \"%s\", \"name\": ", i ? "," : "",
			kind_name(e->kind), obj_status_name(e->status));
		hp_json_string(f, e->name);
		if (e->old_name) { /* the text report's "was NAME" */
			fputs(", \"old_name\": ", f);
			hp_json_string(f, e->old_name);
		}
		if (e->old)
			json_sym(f, "old", e->old);
		if (e->new)
			json_sym(f, "new", e->new);
		if (e->why) {
			fputs(", \"why\": ", f);
			hp_json_string(f, e->why);
		}
		if (e->line_only)
			fputs(", \"line_only\": true", f);
		if (e->part_of) {
			fputs(", \"part_of\": ", f);
			hp_json_string(f, e->part_of);
		}
		if (e->ninlines) {
			fputs(", \"inlines\": [", f);
			for (size_t k = 0; k < e->ninlines; k++) {
				if (k)
					fputs(", ", f);
				fputs("{\"name\": ", f);
				hp_json_string(f, e->inlines[k].name);
				fprintf(f, ", \"changed\": %s}", e->inlines[k].changed ? "true" : "false");
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("\n  ],\n  \"findings\": [", f);
	for (size_t i = 0; r->findings && i < r->findings->n; i++)
		json_finding(f, &r->findings->v[i], i);
	fputs("\n  ]\n}\n", f);
}
