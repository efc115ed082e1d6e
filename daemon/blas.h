/* OpenBLAS's kernel for this CPU. Debian 12's OpenBLAS (0.3.21) does not
 * know some newer processors and runs its generic SSE3 kernel ("Prescott")
 * on them, two to three times slower than the AVX2 one the processor can
 * run. mpdrec then asks for the Haswell kernel, which needs only AVX2 and
 * FMA; a kernel chosen by the user (OPENBLAS_CORETYPE) is left alone. */
#ifndef MPDREC_BLAS_H
#define MPDREC_BLAS_H

#include <stdbool.h>

/** The OpenBLAS core type to ask for, given the core OpenBLAS picked
 *  (`corename`, as openblas_get_corename() says), whether the CPU runs
 *  AVX2 and FMA, and OPENBLAS_CORETYPE (NULL when unset). Returns a
 *  static name ("Haswell"), or NULL to keep what OpenBLAS picked. */
const char *blas_better_core(const char *corename, bool avx2_fma,
			     const char *env_coretype);

/** Once at the start of main, before any thread or file is opened: when
 *  blas_better_core() names a kernel, sets OPENBLAS_CORETYPE and runs
 *  this program again with the same argv (OpenBLAS reads the variable
 *  only as it loads). Returns only when nothing was to be done or the
 *  exec failed; the program then goes on with the kernel it has. */
void blas_tune(char **argv);

/** The kernel OpenBLAS runs, and whether mpdrec chose it: a static string
 *  such as "Haswell (chosen by mpdrec; OpenBLAS picked Prescott)". */
const char *blas_describe(void);

#endif
