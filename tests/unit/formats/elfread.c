/*
 * Unit tests for formats/elfread.c and formats/obj.c: real objects from gcc and
 * clang read into the model, and malformed files refused with one line.
 */
#include <elf.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "formats/base.h"
#include "formats/elfread.h"
#include "tests/unit/helpers.h"

static const char src[] = "static int counter;\n"
			  "int g = 5;\n"
			  "const char *greet(void) { return \"hello\"; }\n"
			  "int bump(int x) { counter += x; return counter + g; }\n";

static void check_model(const char *cc)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	char *path = th_compile(cc, "-O2 -g -ffunction-sections -fdata-sections", cc, src);
	struct obj *obj = th_read_obj(&ctx, path);

	assert_int_equal(obj->machine, EM_X86_64);
	struct obj_sym *bump = th_sym(obj, "bump");
	assert_true(obj_sym_is_func(bump));
	assert_string_equal(bump->sec->name, ".text.bump");
	assert_true(bump->size > 0);
	assert_ptr_equal(obj_sym_at(bump->sec, bump->size - 1), bump);
	assert_ptr_equal(obj_find_sec(obj, ".text.bump"), bump->sec);

	struct obj_sym *g = th_sym(obj, "g");
	assert_true(obj_sym_is_data(g));
	assert_int_equal(g->size, 4);
	assert_int_equal(hp_load_le32(obj_sym_bytes(g)), 5);

	/* Relocations are attached to the section they patch, sorted by offset. */
	assert_true(bump->sec->nrels >= 2);
	for (size_t i = 1; i < bump->sec->nrels; i++)
		assert_true(bump->sec->rels[i - 1].offset <= bump->sec->rels[i].offset);
	/* Debug relocations are read lazily. */
	struct obj_sec *dbg = obj_find_sec(obj, ".debug_info");
	assert_non_null(dbg);
	assert_false(dbg->rels_loaded);
	assert_int_equal(obj_load_rels(&ctx, obj, dbg), 0);
	assert_true(dbg->rels_loaded && dbg->nrels > 0);

	obj_free(obj);
	free(path);
	hp_ctx_fini(&ctx);
}

static void test_formats_elfread__gcc_object(void **state)
{
	(void)state;
	check_model("gcc");
}

static void test_formats_elfread__clang_object(void **state)
{
	(void)state;
	check_model("clang");
}

/* Reading path must fail with code and a message containing what. */
static void expect_refusal(const char *path, int code, const char *what)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct obj *obj = (struct obj *)1;
	int err = obj_read_elf(&ctx, path, &obj);
	assert_int_equal(err, -code);
	assert_null(obj);
	assert_int_equal(ctx.ndiags, 1);
	if (!strstr(th_last_diag(&ctx), what))
		fail_msg("diagnostic '%s' does not contain '%s'", th_last_diag(&ctx), what);
	assert_non_null(strstr(th_last_diag(&ctx), path));
	hp_ctx_fini(&ctx);
}

static void test_formats_elfread__not_elf(void **state)
{
	(void)state;
	char *p = th_write_file("text.o", "hello world, not an object\n", 27);
	expect_refusal(p, HP_ECORRUPT, "not an ELF file");
	free(p);
	p = th_write_file("empty.o", "", 0);
	expect_refusal(p, HP_ECORRUPT, "not an ELF file");
	free(p);
}

static void test_formats_elfread__missing_file(void **state)
{
	(void)state;
	expect_refusal("/nonexistent/x.o", HP_ERROR, "cannot open");
}

/* Every prefix of a real object is refused cleanly, never read past its end. */
static void test_formats_elfread__every_truncation(void **state)
{
	(void)state;
	char *path = th_compile("gcc", "-O2 -g -ffunction-sections -fdata-sections", "trunc", src);
	size_t n;
	uint8_t *buf = th_read_file(path, &n);
	size_t step = n / 512 ? n / 512 : 1;
	for (size_t len = 0; len < n; len += (len < 256 ? 1 : step)) {
		char *p = th_write_file("cut.o", buf, len);
		struct hp_ctx ctx;
		hp_ctx_init(&ctx, "test");
		struct obj *obj = NULL;
		int err = obj_read_elf(&ctx, p, &obj);
		if (err == 0) {
			/* A cut after the last section's bytes still leaves a valid file
			 * only if the section headers are intact; libelf needs them at the end. */
			fail_msg("truncated to %zu of %zu bytes but accepted", len, n);
		}
		assert_int_equal(ctx.ndiags, 1);
		obj_free(obj);
		hp_ctx_fini(&ctx);
		free(p);
	}
	free(buf);
	free(path);
}

/* A relocation section whose entry size is zero would divide by zero. */
static void test_formats_elfread__zero_entsize(void **state)
{
	(void)state;
	char *path = th_compile("gcc", "-O2 -ffunction-sections -fdata-sections", "ent", src);
	size_t n;
	uint8_t *buf = th_read_file(path, &n);
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof eh);
	bool patched = false;
	for (unsigned i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, buf + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
		if (sh.sh_type == SHT_RELA) {
			sh.sh_entsize = 0;
			memcpy(buf + eh.e_shoff + (size_t)i * sizeof sh, &sh, sizeof sh);
			patched = true;
			break;
		}
	}
	assert_true(patched);
	char *p = th_write_file("ent0.o", buf, n);
	expect_refusal(p, HP_ECORRUPT, "sh_entsize is 0");
	free(p);
	free(buf);
	free(path);
}

/* A symbol pointing past the end of its section. */
static void test_formats_elfread__symbol_out_of_section(void **state)
{
	(void)state;
	char *path = th_compile("gcc", "-O2 -ffunction-sections -fdata-sections", "sym", src);
	size_t n;
	uint8_t *buf = th_read_file(path, &n);
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof eh);
	bool patched = false;
	for (unsigned i = 1; i < eh.e_shnum && !patched; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, buf + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
		if (sh.sh_type != SHT_SYMTAB)
			continue;
		for (size_t k = 1; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym s;
			size_t at = sh.sh_offset + k * sizeof s;
			memcpy(&s, buf + at, sizeof s);
			if (ELF64_ST_TYPE(s.st_info) == STT_FUNC) {
				s.st_size = 0x100000;
				memcpy(buf + at, &s, sizeof s);
				patched = true;
				break;
			}
		}
	}
	assert_true(patched);
	char *p = th_write_file("symbig.o", buf, n);
	expect_refusal(p, HP_ECORRUPT, "lies outside section");
	free(p);
	free(buf);
	free(path);
}

static void test_formats_elfread__executable_refused(void **state)
{
	(void)state;
	char *c = th_write_file("exe.c", "int main(void) { return 0; }\n", 29);
	char exe[300], cmd[700];
	snprintf(exe, sizeof exe, "%s/exe", th_tmpdir());
	snprintf(cmd, sizeof cmd, "gcc -o '%s' '%s'", exe, c);
	assert_int_equal(system(cmd), 0);
	expect_refusal(exe, HP_EUNSUPPORTED, "not a relocatable object");
	free(c);
}

/*
 * obj_read_elf_mem reads a buffer in place and never writes it: the same model
 * from a read-only mapping as from the file.
 */
static void test_formats_elfread__from_memory(void **state)
{
	(void)state;
	char *path = th_compile("gcc", "-O2 -g -ffunction-sections -fdata-sections", "mem", src);
	size_t n;
	uint8_t *bytes = th_read_file(path, &n);
	size_t pages = (n + 4095) & ~(size_t)4095;
	uint8_t *ro = mmap(NULL, pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ro != MAP_FAILED);
	memcpy(ro, bytes, n);
	assert_int_equal(mprotect(ro, pages, PROT_READ), 0);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct obj *a = th_read_obj(&ctx, path), *b = NULL;
	if (obj_read_elf_mem(&ctx, "mem.o", ro, n, &b) < 0)
		fail_msg("obj_read_elf_mem: %s", th_last_diag(&ctx));
	assert_string_equal(b->path, "mem.o");
	assert_int_equal(a->nsecs, b->nsecs);
	assert_int_equal(a->nsyms, b->nsyms);
	struct obj_sym *sa = th_sym(a, "bump"), *sb = th_sym(b, "bump");
	assert_int_equal(sa->size, sb->size);
	assert_memory_equal(obj_sym_bytes(sa), obj_sym_bytes(sb), sa->size);
	assert_int_equal(sa->sec->nrels, sb->sec->nrels);
	struct obj_sec *dbg = obj_find_sec(b, ".debug_info");
	assert_int_equal(obj_load_rels(&ctx, b, dbg), 0);
	obj_free(a);
	obj_free(b);
	/* A buffer too short to be ELF, and one that is not. */
	assert_int_equal(obj_read_elf_mem(&ctx, "short.o", ro, 3, &b), -HP_ECORRUPT);
	assert_null(b);
	assert_int_equal(obj_read_elf_mem(&ctx, "text.o", (const uint8_t *)src, sizeof src, &b),
			 -HP_ECORRUPT);
	assert_string_equal(th_last_diag(&ctx), "text.o: not an ELF file");
	hp_ctx_fini(&ctx);
	munmap(ro, pages);
	free(bytes);
	free(path);
}

/*
 * A compressed debug section (-gz) whose header declares more than zlib can
 * give from its bytes is refused before libelf allocates that much.
 */
static void test_formats_elfread__inflate_bound(void **state)
{
	(void)state;
	char *path = th_compile("gcc", "-O2 -g -gz -ffunction-sections -fdata-sections", "gz", src);
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "test");
	struct obj *ok = th_read_obj(&ctx, path);
	struct obj_sec *info = obj_find_sec(ok, ".debug_info");
	assert_non_null(info);
	assert_int_equal(info->flags & SHF_COMPRESSED, SHF_COMPRESSED);
	assert_true(info->data && info->data[0] != 0); /* inflated: unit_length, not a Chdr */
	obj_free(ok);
	hp_ctx_fini(&ctx);

	size_t n;
	uint8_t *buf = th_read_file(path, &n);
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof eh);
	bool patched = false;
	for (unsigned i = 1; i < eh.e_shnum && !patched; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, buf + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
		if (!(sh.sh_flags & SHF_COMPRESSED))
			continue;
		Elf64_Chdr chdr;
		memcpy(&chdr, buf + sh.sh_offset, sizeof chdr);
		chdr.ch_size = (uint64_t)1 << 40; /* a terabyte from a few hundred bytes */
		memcpy(buf + sh.sh_offset, &chdr, sizeof chdr);
		patched = true;
	}
	assert_true(patched);
	char *p = th_write_file("gzbomb.o", buf, n);
	expect_refusal(p, HP_ECORRUPT, "declares 1099511627776 bytes once inflated");
	free(p);
	free(buf);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_elfread__gcc_object),
		cmocka_unit_test(test_formats_elfread__clang_object),
		cmocka_unit_test(test_formats_elfread__not_elf),
		cmocka_unit_test(test_formats_elfread__missing_file),
		cmocka_unit_test(test_formats_elfread__every_truncation),
		cmocka_unit_test(test_formats_elfread__zero_entsize),
		cmocka_unit_test(test_formats_elfread__symbol_out_of_section),
		cmocka_unit_test(test_formats_elfread__executable_refused),
		cmocka_unit_test(test_formats_elfread__from_memory),
		cmocka_unit_test(test_formats_elfread__inflate_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
