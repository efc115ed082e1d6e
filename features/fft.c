#include "features/fft.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <libavutil/mem.h>
#include <libavutil/tx.h>

struct fft {
	int n;
	AVTXContext *half, *inv;	/* complex FFT of n/2; inverse RDFT */
	av_tx_fn half_fn, inv_fn;
	float *in;		/* n */
	AVComplexFloat *spec;	/* n/2 + 1 */
	float *out;		/* n */
	float *cos, *sin;	/* (n/2) of 2 pi k / n */
};

struct fft *fft_new(int n)
{
	if (n < 16 || (n & (n - 1)))
		return NULL;
	struct fft *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->n = n;
	float one = 1.0f;
	f->in = av_malloc((size_t)n * sizeof *f->in);
	f->out = av_malloc((size_t)n * sizeof *f->out);
	f->spec = av_malloc((size_t)(n / 2 + 1) * sizeof *f->spec);
	f->cos = malloc((size_t)(n / 2) * sizeof *f->cos);
	f->sin = malloc((size_t)(n / 2) * sizeof *f->sin);
	if (!f->in || !f->out || !f->spec || !f->cos || !f->sin ||
	    av_tx_init(&f->half, &f->half_fn, AV_TX_FLOAT_FFT, 0, n / 2, &one,
		       0) < 0 ||
	    av_tx_init(&f->inv, &f->inv_fn, AV_TX_FLOAT_RDFT, 1, n, &one,
		       0) < 0) {
		fft_free(f);
		return NULL;
	}
	memset(f->in, 0, (size_t)n * sizeof *f->in);
	for (int k = 0; k < n / 2; k++) {
		f->cos[k] = (float)cos(2 * M_PI * k / n);
		f->sin[k] = (float)sin(2 * M_PI * k / n);
	}
	return f;
}

float *fft_input(struct fft *f)
{
	return f->in;
}

/* The real FFT of n points is a complex FFT of n/2 (z = even + i odd
 * samples) and a last pass that splits Z into the spectra of the even and
 * the odd samples and joins them, X(k) = E(k) + e^(-2 pi i k / n) O(k):
 * with A = Z(k) and B = conj Z(n/2 - k), 2 E = A + B, 2 i O = A - B. Only
 * the power is kept. (libavutil's own real FFT does this pass in scalar
 * code, as long as the transform itself.) */
void fft_power(struct fft *f, float *restrict power)
{
	int m = f->n / 2;
	f->half_fn(f->half, f->spec, f->in, sizeof(AVComplexFloat));
	const AVComplexFloat *restrict z = f->spec;
	const float *restrict c = f->cos, *restrict s = f->sin;
	int k = 1;
#if defined(__SSE__)
	const __m128 quarter = _mm_set1_ps(0.25f);
	for (; k + 4 <= m; k += 4) {
		/* A for k .. k + 3, B from m - k down to m - k - 3. */
		__m128 a0 = _mm_loadu_ps(&z[k].re), a1 = _mm_loadu_ps(&z[k + 2].re);
		__m128 b0 = _mm_loadu_ps(&z[m - k - 3].re);
		__m128 b1 = _mm_loadu_ps(&z[m - k - 1].re);
		__m128 ar = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0));
		__m128 ai = _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1));
		__m128 br = _mm_shuffle_ps(b1, b0, _MM_SHUFFLE(0, 2, 0, 2));
		__m128 bi = _mm_sub_ps(_mm_setzero_ps(),
				       _mm_shuffle_ps(b1, b0,
						      _MM_SHUFFLE(1, 3, 1, 3)));
		__m128 fr = _mm_add_ps(ar, br), fi = _mm_add_ps(ai, bi);
		__m128 gr = _mm_sub_ps(ar, br), gi = _mm_sub_ps(ai, bi);
		__m128 ck = _mm_loadu_ps(c + k), sk = _mm_loadu_ps(s + k);
		__m128 xr = _mm_add_ps(_mm_sub_ps(fr, _mm_mul_ps(sk, gr)),
				       _mm_mul_ps(ck, gi));
		__m128 xi = _mm_sub_ps(_mm_sub_ps(fi, _mm_mul_ps(sk, gi)),
				       _mm_mul_ps(ck, gr));
		__m128 pw = _mm_add_ps(_mm_mul_ps(xr, xr), _mm_mul_ps(xi, xi));
		_mm_storeu_ps(power + k, _mm_mul_ps(quarter, pw));
	}
#endif
	for (; k < m; k++) {
		float ar = z[k].re, ai = z[k].im;
		float br = z[m - k].re, bi = -z[m - k].im;
		float fr = ar + br, fi = ai + bi, gr = ar - br, gi = ai - bi;
		float xr = fr - s[k] * gr + c[k] * gi;
		float xi = fi - s[k] * gi - c[k] * gr;
		power[k] = 0.25f * (xr * xr + xi * xi);
	}
	float dc = z[0].re + z[0].im, nyquist = z[0].re - z[0].im;
	power[0] = dc * dc;
	power[m] = nyquist * nyquist;
}

void fft_inverse_real(struct fft *f, const float *c, float *out)
{
	int bins = f->n / 2 + 1;
	for (int k = 0; k < bins; k++) {
		f->spec[k].re = c[k];
		f->spec[k].im = 0;
	}
	f->inv_fn(f->inv, f->out, f->spec, sizeof(AVComplexFloat));
	memcpy(out, f->out, (size_t)f->n * sizeof *out);
}

void fft_free(struct fft *f)
{
	if (!f)
		return;
	av_tx_uninit(&f->half);
	av_tx_uninit(&f->inv);
	av_free(f->in);
	av_free(f->out);
	av_free(f->spec);
	free(f->cos);
	free(f->sin);
	free(f);
}
