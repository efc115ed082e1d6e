/* Included first by the files whose loops carry the analysis (decoding's
 * mix, the half-band filter, the spectra): GCC vectorizes at -O2 only loops
 * whose vector form costs nothing extra, which leaves most of these scalar
 * (stride-2 spectra, short fixed blocks); with its usual cost model, as at
 * -O3, analysis runs about 5% faster. clang vectorizes them at -O2 as it
 * is. Internal to features/. */
#ifndef MPDREC_VECTORIZE_H
#define MPDREC_VECTORIZE_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif

#endif
