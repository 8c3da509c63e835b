/*
 * verify-bench.c: CPU time of signing and verifying, for bench/verify.sh.
 *
 *   verify-bench verify FILE TRUST N      signer_verify() N times, fresh ctx each
 *   verify-bench sign FILE KEY N          signer_append() N times with one open key
 *   verify-bench exec N CMD ARGS...       run CMD N times; CPU of the children
 *
 * Each prints one number: microseconds of CPU (user + system) per operation.
 * Built against build/libsigner.a, build/libhpx.a and build/libbase.a by verify.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "formats/base.h"
#include "signer/signer.h"

static double cpu_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(struct hp_ctx *ctx, const char *what)
{
	fprintf(stderr, "verify-bench: %s: %s\n", what,
		ctx->ndiags ? ctx->diags[ctx->ndiags - 1].text : "failed");
	exit(1);
}

static int bench_verify(const char *file, const char *trust_path, long n)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "verify-bench");
	uint8_t *buf;
	size_t len;
	struct signer_trust *trust;
	if (hp_read_file(&ctx, file, 1u << 26, &buf, &len) < 0)
		die(&ctx, file);
	if (signer_trust_load(&ctx, trust_path, &trust) < 0)
		die(&ctx, trust_path);
	double t0 = cpu_us();
	for (long i = 0; i < n; i++) {
		struct hp_ctx c;
		hp_ctx_init(&c, "verify-bench");
		struct signer_verdict v;
		if (signer_verify(&c, trust, file, buf, len, 1, &v) < 0)
			die(&c, file);
		hp_ctx_fini(&c);
	}
	printf("%.1f\n", (cpu_us() - t0) / (double)n);
	signer_trust_free(trust);
	free(buf);
	hp_ctx_fini(&ctx);
	return 0;
}

static int bench_sign(const char *file, const char *spec, long n)
{
	struct hp_ctx ctx;
	hp_ctx_init(&ctx, "verify-bench");
	uint8_t *buf;
	size_t len;
	struct signer_key *key;
	if (hp_read_file(&ctx, file, 1u << 26, &buf, &len) < 0)
		die(&ctx, file);
	if (signer_key_open(&ctx, spec, NULL, &key) < 0)
		die(&ctx, spec);
	double t0 = cpu_us();
	for (long i = 0; i < n; i++) {
		uint8_t *copy = malloc(len);
		size_t clen = len;
		memcpy(copy, buf, len);
		if (signer_append(&ctx, key, file, &copy, &clen) < 0)
			die(&ctx, file);
		free(copy);
	}
	printf("%.1f\n", (cpu_us() - t0) / (double)n);
	signer_key_free(key);
	free(buf);
	hp_ctx_fini(&ctx);
	return 0;
}

static int bench_exec(long n, char **argv)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			freopen("/dev/null", "w", stdout);
			execvp(argv[0], argv);
			_exit(127);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "verify-bench: %s failed\n", argv[0]);
			return 1;
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double us = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
		    ru.ru_stime.tv_usec;
	printf("%.1f\n", us / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "verify"))
		return bench_verify(argv[2], argv[3], atol(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "sign"))
		return bench_sign(argv[2], argv[3], atol(argv[4]));
	if (argc >= 4 && !strcmp(argv[1], "exec"))
		return bench_exec(atol(argv[2]), argv + 3);
	fprintf(stderr, "usage: verify-bench verify FILE TRUST N | sign FILE KEY N | exec N CMD...\n");
	return 1;
}
