/* OpenBLAS's kernel for this CPU. Debian 12's OpenBLAS (0.3.21) does not
 * know some newer processors: it runs its generic SSE3 kernel ("Prescott")
 * on them, two to three times slower than the AVX2 one the processor can
 * run, or its Haswell kernel on a CPU with AVX-512, where the SkylakeX one
 * is faster (17% on an AVX-512 Xeon). mpdrec then asks for the best kernel
 * the CPU and the OS support: SkylakeX with AVX-512 F, BW, DQ and VL
 * enabled by the OS, else Haswell with AVX2 and FMA. OpenBLAS reads
 * OPENBLAS_CORETYPE only as it loads, so that takes running the program
 * again: only commands that do linear algebra pay for it. A kernel chosen
 * by the user (OPENBLAS_CORETYPE) is left alone. */
#ifndef MPDREC_BLAS_H
#define MPDREC_BLAS_H

#include <stdbool.h>

/** What the CPU can run, the OS's support included (XCR0). */
struct blas_cpu {
	bool avx2_fma;
	bool avx512;		/* F, BW, DQ and VL */
};

/** The CPU this runs on. */
struct blas_cpu blas_cpu(void);

/** The OpenBLAS core type to ask for, given the core OpenBLAS picked
 *  (`corename`, as openblas_get_corename() says), what the CPU runs, and
 *  OPENBLAS_CORETYPE (NULL when unset). Returns a static name ("SkylakeX",
 *  "Haswell"), or NULL to keep what OpenBLAS picked. */
const char *blas_better_core(const char *corename, struct blas_cpu cpu,
			     const char *env_coretype);

/** Whether the subcommand called `command` does linear algebra (scores,
 *  trains or evaluates the model): run, recommend, train, eval, report. */
bool blas_needed(const char *command);

/** In main, once the subcommand is known and before any file is opened:
 *  when `command` does linear algebra and blas_better_core() names a
 *  kernel, sets OPENBLAS_CORETYPE and runs this program again with the
 *  arguments it was started with (read back from /proc/self/cmdline, so
 *  main may have rearranged argv). Returns only when nothing was to be done
 *  or the exec failed; the program then goes on with the kernel it has. */
void blas_tune(const char *command);

/** The kernel OpenBLAS runs, and whether mpdrec chose it: a static string
 *  such as "SkylakeX (chosen by mpdrec; OpenBLAS picked Haswell)". */
const char *blas_describe(void);

#endif
