/* daemon/blas: which OpenBLAS kernel mpdrec asks for (SkylakeX where the CPU
 * and the OS run AVX-512, Haswell on AVX2 and FMA, never against the user's
 * OPENBLAS_CORETYPE), that the real binary runs the best one its CPU can
 * for the commands that do linear algebra, and that the others never pay
 * for a second start. That the kernel computes right is test_nn's part: it
 * runs on the same kernel. */
#include "daemon/blas.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct blas_cpu none = { false, false };
static const struct blas_cpu avx2 = { true, false };
static const struct blas_cpu avx512 = { true, true };

static void test_better_core_rule(void)
{
	CHECK_STR(blas_better_core("Prescott", avx2, NULL), "Haswell");
	CHECK_STR(blas_better_core("sandybridge", avx2, NULL), "Haswell");
	CHECK_STR(blas_better_core("Prescott", avx2, ""), "Haswell");
	/* AVX-512: SkylakeX, over the generic kernel and over Haswell and
	 * Zen (AVX2 kernels) alike. */
	CHECK_STR(blas_better_core("Prescott", avx512, NULL), "SkylakeX");
	CHECK_STR(blas_better_core("Haswell", avx512, NULL), "SkylakeX");
	CHECK_STR(blas_better_core("Zen", avx512, NULL), "SkylakeX");
	/* The CPU (or the OS) cannot run it. */
	CHECK(blas_better_core("Prescott", none, NULL) == NULL);
	CHECK(blas_better_core("Haswell", avx2, NULL) == NULL);
	/* The user chose. */
	CHECK(blas_better_core("Prescott", avx512, "Prescott") == NULL);
	CHECK(blas_better_core("Prescott", avx2, "Zen") == NULL);
	CHECK(blas_better_core("Haswell", avx512, "Haswell") == NULL);
	/* OpenBLAS already runs a kernel as good or better. */
	CHECK(blas_better_core("SkylakeX", avx512, NULL) == NULL);
	CHECK(blas_better_core("Cooperlake", avx512, NULL) == NULL);
	CHECK(blas_better_core("sapphirerapids", avx512, NULL) == NULL);
	CHECK(blas_better_core("Zen", avx2, NULL) == NULL);
	CHECK(blas_better_core(NULL, avx512, NULL) == NULL);
	/* What the CPU reports hangs together. */
	struct blas_cpu c = blas_cpu();
	CHECK(!c.avx512 || c.avx2_fma);
	printf("     (this CPU: AVX2+FMA %s, AVX-512 %s)\n",
	       c.avx2_fma ? "yes" : "no", c.avx512 ? "yes" : "no");
}

static void test_commands_that_need_it(void)
{
	const char *yes[] = { "run", "recommend", "train", "eval", "report" };
	const char *no[] = { "analyze", "status", "like", "dislike", "ban",
			     "show", "export", "check-config", NULL };
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		CHECK_MSG(blas_needed(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		CHECK_MSG(!blas_needed(no[i]), "%s", no[i] ? no[i] : "NULL");
}

/* Runs the real binary with `args` and OPENBLAS_VERBOSE=2 (OpenBLAS says
 * "Core: X" each time it loads), OPENBLAS_CORETYPE set to `env` or unset
 * (this test's own environment may hold one: the daemon must not inherit
 * it). Returns how many times OpenBLAS loaded, -1 when it could not run;
 * the kernel the -v log names goes into kernel (empty when none). */
static int loads(const char *env, const char *args, char *kernel,
		 size_t size)
{
	char log[4300], cmd[9000], pre[128];
	snprintf(log, sizeof log, "%s/blas.log", harness_tmpdir());
	if (env)
		snprintf(pre, sizeof pre, "OPENBLAS_CORETYPE=%s", env);
	else
		snprintf(pre, sizeof pre, "-u OPENBLAS_CORETYPE");
	snprintf(cmd, sizeof cmd,
		 "env -u MPDREC_BLAS_PICKED %s OPENBLAS_VERBOSE=2 '%s' %s "
		 ">'%s' 2>&1",
		 pre, proc_mpdrec(), args, log);
	if (system(cmd) == -1)
		return -1;
	FILE *f = fopen(log, "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	kernel[0] = '\0';
	while (fgets(line, sizeof line, f)) {
		/* OpenBLAS writes without a newline: count every mention. */
		for (const char *p = line; (p = strstr(p, "Core: ")); p++)
			n++;
		const char *k = strstr(line, "OpenBLAS kernel: ");
		if (k) {
			snprintf(kernel, size, "%s",
				 k + strlen("OpenBLAS kernel: "));
			kernel[strcspn(kernel, "\n")] = '\0';
		}
	}
	fclose(f);
	return n;
}

/* The commands that do no linear algebra start once, whatever the CPU;
 * those that do run a kernel no weaker than the CPU allows (starting a
 * second time for it only when OpenBLAS picked a weaker one). */
static void test_binary_runs_the_better_kernel(void)
{
	char k[256], conf[4300];
	snprintf(conf, sizeof conf, "%s/none.conf", harness_tmpdir());
	FILE *f = fopen(conf, "w");
	if (!CHECK(f))
		return;
	fprintf(f, "data_directory = \"%s/data\";\n", harness_tmpdir());
	fclose(f);
	char args[8800];
	const char *quick[] = { "--version", "--help", "check-config",
				"show --help", "status", "export --csv" };
	for (size_t i = 0; i < sizeof quick / sizeof *quick; i++) {
		snprintf(args, sizeof args, "-v --config '%s' %s", conf,
			 quick[i]);
		int n = loads(NULL, args, k, sizeof k);
		CHECK_MSG(n == 1, "mpdrec %s: OpenBLAS loaded %d times",
			  quick[i], n);
		CHECK_MSG(!strstr(k, "chosen by mpdrec"), "%s: %s", quick[i],
			  k);
	}
	/* eval does linear algebra; a missing CSV ends it after the
	 * kernel is chosen and logged. */
	snprintf(args, sizeof args,
		 "-v --config '%s' eval --csv /nonexistent --label y", conf);
	int n = loads(NULL, args, k, sizeof k);
	if (!CHECK_MSG(n >= 1 && *k, "eval: %d loads, kernel '%s'", n, k))
		return;
	char core[64];
	sscanf(k, "%63s", core);
	printf("     (the daemon's kernel: %s; OpenBLAS loaded %d times)\n", k,
	       n);
	CHECK_MSG(blas_better_core(core, blas_cpu(), NULL) == NULL,
		  "eval runs %s where this CPU could do better", k);
	CHECK_INT(n, strstr(k, "chosen by mpdrec") ? 2 : 1);
	/* Global options after the command (main moves them out of argv):
	 * the second start still has them, or -v would log nothing. */
	snprintf(args, sizeof args,
		 "eval --csv /nonexistent --label y -v --config '%s'", conf);
	char k2[256];
	n = loads(NULL, args, k2, sizeof k2);
	CHECK_MSG(n >= 1 && !strcmp(k2, k), "options after the command: "
		  "%d loads, kernel '%s'", n, k2);
	snprintf(args, sizeof args,
		 "-v --config '%s' eval --csv /nonexistent --label y", conf);
	/* A choice of the user's stands, and costs no second start. */
	n = loads("Prescott", args, k, sizeof k);
	CHECK_INT(n, 1);
	CHECK_MSG(strncmp(k, "Prescott", 8) == 0, "kernel %s", k);
	CHECK_MSG(!strstr(k, "chosen by mpdrec"), "kernel %s", k);
}

int main(void)
{
	RUN(test_better_core_rule);
	RUN(test_commands_that_need_it);
	RUN(test_binary_runs_the_better_kernel);
	return harness_finish();
}
