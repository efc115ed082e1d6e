/* daemon/blas: which OpenBLAS kernel mpdrec asks for, and that the real
 * binary runs the best one its CPU can (never the generic one when it could
 * do better, never against the user's OPENBLAS_CORETYPE). That the kernel
 * computes right is test_nn's part: it runs on the same kernel. */
#include "daemon/blas.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool cpu_avx2_fma(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static void test_better_core_rule(void)
{
	CHECK_STR(blas_better_core("Prescott", true, NULL), "Haswell");
	CHECK_STR(blas_better_core("sandybridge", true, NULL), "Haswell");
	CHECK_STR(blas_better_core("Prescott", true, ""), "Haswell");
	/* The CPU cannot run it. */
	CHECK(blas_better_core("Prescott", false, NULL) == NULL);
	/* The user chose. */
	CHECK(blas_better_core("Prescott", true, "Prescott") == NULL);
	CHECK(blas_better_core("Prescott", true, "Zen") == NULL);
	/* OpenBLAS already runs a kernel as good or better. */
	CHECK(blas_better_core("Haswell", true, NULL) == NULL);
	CHECK(blas_better_core("SkylakeX", true, NULL) == NULL);
	CHECK(blas_better_core("Zen", true, NULL) == NULL);
	CHECK(blas_better_core("Cooperlake", true, NULL) == NULL);
	CHECK(blas_better_core(NULL, true, NULL) == NULL);
}

/* The kernel the real binary logs with -v, run with OPENBLAS_CORETYPE
 * set to `env`, or (NULL) in the environment this test was started in:
 * blas_tune() in main may have added OPENBLAS_CORETYPE and
 * MPDREC_BLAS_PICKED, which the daemon must not inherit; into out. */
static bool binary_kernel(const char *env, char *out, size_t size)
{
	char log[4300];
	snprintf(log, sizeof log, "%s/kernel.log", harness_tmpdir());
	char pre[128];
	if (env)
		snprintf(pre, sizeof pre, "OPENBLAS_CORETYPE=%s ", env);
	else if (getenv("MPDREC_BLAS_PICKED"))
		snprintf(pre, sizeof pre, "unset OPENBLAS_CORETYPE "
			 "MPDREC_BLAS_PICKED; ");
	else
		pre[0] = '\0';
	char cmd[9000];
	snprintf(cmd, sizeof cmd,
		 "%s'%s' -v --config /dev/null check-config >'%s' 2>&1", pre,
		 proc_mpdrec(), log);
	if (system(cmd) != 0)
		return false;
	FILE *f = fopen(log, "r");
	if (!f)
		return false;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		const char *k = strstr(line, "OpenBLAS kernel: ");
		if (k) {
			snprintf(out, size, "%s", k + strlen("OpenBLAS kernel: "));
			out[strcspn(out, "\n")] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void test_binary_runs_the_better_kernel(void)
{
	char k[256];
	if (!CHECK(binary_kernel(NULL, k, sizeof k)))
		return;
	char core[64];
	sscanf(k, "%63s", core);
	printf("     (the daemon's kernel: %s)\n", k);
	/* Started with OPENBLAS_CORETYPE of its own, it keeps it; else it
	 * runs no kernel weaker than the CPU allows. */
	const char *own = getenv("MPDREC_BLAS_PICKED") ? NULL
			  : getenv("OPENBLAS_CORETYPE");
	if (own && *own)
		CHECK_MSG(!strstr(k, "chosen by mpdrec"), "kernel %s", k);
	else
		CHECK_MSG(blas_better_core(core, cpu_avx2_fma(), NULL) == NULL,
			  "the daemon runs %s where this CPU could do better",
			  k);
	/* A choice of the user's stands. */
	if (CHECK(binary_kernel("Prescott", k, sizeof k))) {
		CHECK_MSG(strncmp(k, "Prescott", 8) == 0, "kernel %s", k);
		CHECK_MSG(!strstr(k, "chosen by mpdrec"), "kernel %s", k);
	}
}

int main(int argc, char **argv)
{
	(void)argc;
	blas_tune(argv);
	RUN(test_better_core_rule);
	RUN(test_binary_runs_the_better_kernel);
	return harness_finish();
}
