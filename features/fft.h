/* Real FFTs of one power-of-two size, through libavutil's av_tx (SIMD on
 * x86): the power spectrum of a frame, and the inverse of a spectrum with
 * real coefficients (a power spectrum's inverse is the frame's circular
 * autocorrelation). Internal to features/.
 *
 *	float *in = fft_input(f);   ... fill n samples ...
 *	fft_power(f, power);        power (n/2 + 1) = |DFT(in)|²
 */
#ifndef MPDREC_FFT_H
#define MPDREC_FFT_H

struct fft;

/** A transform of n points (a power of two, >= 16). Returns NULL when out of
 *  memory or libavutil refuses. Free with fft_free(). */
struct fft *fft_new(int n);

/** The n-sample input buffer fft_power() transforms (borrowed; aligned as
 *  av_tx wants). */
float *fft_input(struct fft *f);

/** power (n/2 + 1) = |X(k)|², X the unnormalised DFT of the input buffer.
 *  The input buffer is left as it was. Never allocates. */
void fft_power(struct fft *f, float *power);

/** out (n) = sum over all n bins of c(k) e^(2 pi i k t / n), c real and
 *  even, given as c (n/2 + 1): for c a power spectrum, n times the circular
 *  autocorrelation at lag t. Never allocates. */
void fft_inverse_real(struct fft *f, const float *c, float *out);

/** Frees f. Accepts NULL. */
void fft_free(struct fft *f);

#endif
