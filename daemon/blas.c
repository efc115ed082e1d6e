#include "daemon/blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

/* Set beside OPENBLAS_CORETYPE when mpdrec chose the kernel: what
 * OpenBLAS had picked by itself. */
#define PICKED_ENV "MPDREC_BLAS_PICKED"

/* OpenBLAS's x86-64 cores that are slower than its Haswell kernel. */
static const char *const weaker[] = {
	"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
	"Sandybridge", "Opteron", "Barcelona", "Bobcat", "Bulldozer",
	"Piledriver", "Steamroller", "Excavator",
};

/* Its cores that use AVX-512 already. */
static const char *const avx512_cores[] = {
	"SkylakeX", "Cooperlake", "SapphireRapids",
};

static bool listed(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(name, list[i]))
			return true;
	return false;
}

const char *blas_better_core(const char *corename, struct blas_cpu cpu,
			     const char *env_coretype)
{
	if ((env_coretype && *env_coretype) || !corename)
		return NULL;
	if (cpu.avx512 && !listed(corename, avx512_cores,
				  sizeof avx512_cores / sizeof *avx512_cores))
		return "SkylakeX";
	if (cpu.avx2_fma &&
	    listed(corename, weaker, sizeof weaker / sizeof *weaker))
		return "Haswell";
	return NULL;
}

struct blas_cpu blas_cpu(void)
{
	struct blas_cpu c = { false, false };
#ifdef HAVE_CPUID
	unsigned a, b, cx, d;
	if (!__get_cpuid(1, &a, &b, &cx, &d))
		return c;
	bool fma = cx & (1u << 12), osxsave = cx & (1u << 27),
	     avx = cx & (1u << 28);
	if (!osxsave || !avx)
		return c;
	/* The OS saves the registers on a switch: XMM and YMM (bits 1, 2),
	 * and for AVX-512 the mask and ZMM registers (bits 5, 6, 7). */
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	if ((lo & 0x06) != 0x06 || __get_cpuid_max(0, NULL) < 7)
		return c;
	__cpuid_count(7, 0, a, b, cx, d);
	c.avx2_fma = fma && (b & (1u << 5));
	unsigned f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
	c.avx512 = c.avx2_fma && (lo & 0xe0) == 0xe0 &&
		   (b & (f | dq | bw | vl)) == (f | dq | bw | vl);
#endif
	return c;
}

bool blas_needed(const char *command)
{
	static const char *const algebra[] = { "run", "recommend", "train",
					       "eval", "report" };
	return command &&
	       listed(command, algebra, sizeof algebra / sizeof *algebra);
}

/* The arguments the program was started with, from /proc/self/cmdline:
 * main may have moved argv's pointers about since (global options after
 * the command). Returns a malloc'd NULL-terminated vector whose strings
 * live in *buf (the caller frees both), or NULL. */
static char **original_argv(char **buf)
{
	FILE *f = fopen("/proc/self/cmdline", "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	while (b) {
		len += fread(b + len, 1, cap - len, f);
		if (len < cap)
			break;
		char *p = realloc(b, cap *= 2);
		if (!p)
			free(b);
		b = p;
	}
	fclose(f);
	if (!b || len == 0 || b[len - 1] != '\0') {
		free(b);
		return NULL;
	}
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += b[i] == '\0';
	char **argv = malloc((n + 1) * sizeof *argv);
	if (!argv) {
		free(b);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < len; i += strlen(b + i) + 1)
		argv[k++] = b + i;
	argv[k] = NULL;
	*buf = b;
	return argv;
}

void blas_tune(const char *command)
{
	if (!blas_needed(command))
		return;
	const char *core = openblas_get_corename();
	const char *better = blas_better_core(core, blas_cpu(),
					      getenv("OPENBLAS_CORETYPE"));
	if (!better)
		return;
	char *buf = NULL;
	char **argv = original_argv(&buf);
	if (argv && setenv("OPENBLAS_CORETYPE", better, 1) == 0 &&
	    setenv(PICKED_ENV, core, 1) == 0)
		execv("/proc/self/exe", argv);
	/* No /proc, or the binary is gone: run on with the kernel we have. */
	unsetenv("OPENBLAS_CORETYPE");
	unsetenv(PICKED_ENV);
	free(argv);
	free(buf);
}

const char *blas_describe(void)
{
	static char buf[128];
	const char *picked = getenv(PICKED_ENV);
	const char *env = getenv("OPENBLAS_CORETYPE");
	const char *chosen = picked && *picked
				     ? blas_better_core(picked, blas_cpu(), NULL)
				     : NULL;
	/* Inherited from an mpdrec that chose: only while its choice holds. */
	if (chosen && env && !strcasecmp(env, chosen))
		snprintf(buf, sizeof buf, "%s (chosen by mpdrec; OpenBLAS "
			 "picked %s)", openblas_get_corename(), picked);
	else
		snprintf(buf, sizeof buf, "%s", openblas_get_corename());
	return buf;
}
