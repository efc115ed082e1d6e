#include "daemon/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Set beside OPENBLAS_CORETYPE when mpdrec chose the kernel: what
 * OpenBLAS had picked by itself. */
#define PICKED_ENV "MPDREC_BLAS_PICKED"

/* OpenBLAS's x86-64 cores that are slower than its Haswell kernel. */
static const char *const weaker[] = {
	"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
	"Sandybridge", "Opteron", "Barcelona", "Bobcat", "Bulldozer",
	"Piledriver", "Steamroller", "Excavator",
};

const char *blas_better_core(const char *corename, bool avx2_fma,
			     const char *env_coretype)
{
	if ((env_coretype && *env_coretype) || !avx2_fma || !corename)
		return NULL;
	for (size_t i = 0; i < sizeof weaker / sizeof *weaker; i++)
		if (!strcasecmp(corename, weaker[i]))
			return "Haswell";
	return NULL;
}

static bool cpu_has_avx2_fma(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

void blas_tune(char **argv)
{
	const char *core = openblas_get_corename();
	const char *better = blas_better_core(core, cpu_has_avx2_fma(),
					      getenv("OPENBLAS_CORETYPE"));
	if (!better)
		return;
	if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 ||
	    setenv(PICKED_ENV, core, 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	/* No /proc, or the binary is gone: run on with the kernel we have. */
	unsetenv("OPENBLAS_CORETYPE");
	unsetenv(PICKED_ENV);
}

const char *blas_describe(void)
{
	static char buf[128];
	const char *picked = getenv(PICKED_ENV);
	const char *env = getenv("OPENBLAS_CORETYPE");
	/* Inherited from an mpdrec that chose: only while its choice holds. */
	if (picked && *picked && env && !strcmp(env, "Haswell"))
		snprintf(buf, sizeof buf, "%s (chosen by mpdrec; OpenBLAS "
			 "picked %s)", openblas_get_corename(), picked);
	else
		snprintf(buf, sizeof buf, "%s", openblas_get_corename());
	return buf;
}
