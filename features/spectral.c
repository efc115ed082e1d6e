#include "features/spectral.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <aubio/aubio.h>

#include "features/acc.h"
#include "features/fft.h"
#include "features/table.h"

#define WIN SPECTRAL_WIN
#define BINS SPECTRAL_BINS

/* Spectral shape every SHAPE_EVERY frames, MFCC every MFCC_EVERY frames:
 * means and spreads over a track need no more (120 s give 1,300 and 650
 * frames). */
#define SHAPE_EVERY 4
#define MFCC_EVERY 8
#define MEL_BANDS 40
#define BASS_HZ 150.0

/* One-sided power of a Hann-windowed frame is about 0.1875 N² r² for a
 * signal of RMS r: frames below -80 dBFS count as silence. */
#define SILENT_POWER (0.1875 * WIN * WIN * 1e-8)

struct spectral {
	int rate;
	struct fft *fft;
	float window[WIN];
	float power[BINS];
	float mag[BINS];
	float bin[BINS];	/* 0, 1, 2, ...: the centroid's weights */
	float prev[BINS];	/* last normalised magnitude spectrum */
	bool have_prev;
	int bass_bins;
	struct acc flat, roll, cent, flux, bass;
	/* Mel band b: weights mel_w[mel_off[b] ...] on bins mel_lo[b] ...
	 * (mel_n[b] of them): aubio's Slaney filter bank without its zeros. */
	int mel_lo[MEL_BANDS], mel_n[MEL_BANDS], mel_off[MEL_BANDS];
	float *mel_w;
	float dct[FEATURES_MFCC][MEL_BANDS];	/* orthonormal DCT-II rows */
	struct acc mfcc_acc[FEATURES_MFCC];
	struct spectrum out;
};

/* --- vector-friendly loops ---------------------------------------------- */

#define LANES 8

float spectral_sum(const float *x, int n)
{
	float acc[LANES] = { 0 };
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++)
			acc[j] += x[i + j];
	float s = 0;
	for (; i < n; i++)
		s += x[i];
	for (int j = 0; j < LANES; j++)
		s += acc[j];
	return s;
}

float spectral_dot(const float *x, const float *y, int n)
{
	float acc[LANES] = { 0 };
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++)
			acc[j] += x[i + j] * y[i + j];
	float s = 0;
	for (; i < n; i++)
		s += x[i] * y[i];
	for (int j = 0; j < LANES; j++)
		s += acc[j];
	return s;
}

static void magnitude(const float *p, float *m, int n)
{
	int k = 0;
#if defined(__SSE__)
	for (; k + 4 <= n; k += 4)
		_mm_storeu_ps(m + k, _mm_sqrt_ps(_mm_loadu_ps(p + k)));
#endif
	for (; k < n; k++)
		m[k] = sqrtf(p[k]);
}

static float log2_sum(const float *p, int n)
{
	float acc[LANES] = { 0 };
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++)
			acc[j] += spectral_log2(p[i + j] + 1e-12f);
	float s = 0;
	for (; i < n; i++)
		s += spectral_log2(p[i] + 1e-12f);
	for (int j = 0; j < LANES; j++)
		s += acc[j];
	return s;
}

/* Half the L1 distance between q = mag · inv and prev; prev becomes q. */
static float flux_update(const float *restrict mag, float inv,
			 float *restrict prev, int n)
{
	float acc[LANES] = { 0 };
	int i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int j = 0; j < LANES; j++) {
			float q = mag[i + j] * inv;
			acc[j] += fabsf(q - prev[i + j]);
			prev[i + j] = q;
		}
	float s = 0;
	for (; i < n; i++) {
		float q = mag[i] * inv;
		s += fabsf(q - prev[i]);
		prev[i] = q;
	}
	for (int j = 0; j < LANES; j++)
		s += acc[j];
	return s / 2;
}

static void window(float *restrict out, const float *restrict x,
		   const float *restrict w)
{
	for (int i = 0; i < WIN; i++)
		out[i] = x[i] * w[i];
}

/* --- set-up ------------------------------------------------------------- */

/* The non-zero stretch of each of aubio's Slaney mel filters. */
static bool build_mel(struct spectral *s)
{
	aubio_filterbank_t *fb = new_aubio_filterbank(MEL_BANDS, WIN);
	if (!fb)
		return false;
	aubio_filterbank_set_mel_coeffs_slaney(fb, (smpl_t)s->rate);
	fmat_t *c = aubio_filterbank_get_coeffs(fb);
	int total = 0;
	for (int b = 0; b < MEL_BANDS; b++) {
		int lo = BINS, hi = -1;
		for (int k = 0; k < BINS; k++)
			if (c->data[b][k] != 0) {
				lo = k < lo ? k : lo;
				hi = k;
			}
		s->mel_lo[b] = hi < 0 ? 0 : lo;
		s->mel_n[b] = hi < 0 ? 0 : hi - lo + 1;
		s->mel_off[b] = total;
		total += s->mel_n[b];
	}
	s->mel_w = malloc((size_t)(total > 0 ? total : 1) * sizeof *s->mel_w);
	if (s->mel_w)
		for (int b = 0; b < MEL_BANDS; b++)
			for (int k = 0; k < s->mel_n[b]; k++)
				s->mel_w[s->mel_off[b] + k] =
					c->data[b][s->mel_lo[b] + k];
	del_aubio_filterbank(fb);
	return s->mel_w != NULL;
}

struct spectral *spectral_new(int rate)
{
	struct spectral *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->rate = rate;
	for (int i = 0; i < WIN; i++)
		s->window[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / WIN));
	for (int k = 0; k < BINS; k++)
		s->bin[k] = (float)k;
	s->bass_bins = (int)ceil(BASS_HZ * WIN / rate);
	/* As aubio's DCT: orthonormal, so c0 is the mean log level times
	 * sqrt(bands). */
	for (int i = 0; i < FEATURES_MFCC; i++)
		for (int j = 0; j < MEL_BANDS; j++)
			s->dct[i][j] = (float)(sqrt(2.0 / MEL_BANDS) *
					       (i == 0 ? M_SQRT1_2 : 1) *
					       cos(M_PI * i * (j + 0.5) /
						   MEL_BANDS));
	s->fft = fft_new(WIN);
	if (!s->fft || !build_mel(s))
		goto fail;
	s->out = (struct spectrum){ .power = s->power, .mag = s->mag };
	return s;
fail:
	spectral_free(s);
	return NULL;
}

void spectral_reset(struct spectral *s)
{
	s->have_prev = false;
	memset(&s->flat, 0, sizeof s->flat);
	memset(&s->roll, 0, sizeof s->roll);
	memset(&s->cent, 0, sizeof s->cent);
	memset(&s->flux, 0, sizeof s->flux);
	memset(&s->bass, 0, sizeof s->bass);
	memset(s->mfcc_acc, 0, sizeof s->mfcc_acc);
}

/* --- per frame ---------------------------------------------------------- */

static void shape(struct spectral *s, double power)
{
	const double hz = (double)s->rate / WIN;
	const float *mag = s->mag, *pw = s->power;
	double msum = spectral_sum(mag, BINS);
	double wsum = spectral_dot(mag, s->bin, BINS);
	/* Flatness: geometric over arithmetic mean of the power. */
	double gm = exp2(log2_sum(pw, BINS) / BINS);
	double flat = gm / (power / BINS + 1e-12);
	acc_add(&s->flat, flat > 1 ? 1 : flat);
	acc_add(&s->cent, msum > 0 ? wsum / msum * hz : 0);
	acc_add(&s->bass, spectral_sum(pw, s->bass_bins) / power);
	/* Roll-off: where the running sum reaches 85%, found a block at a
	 * time, then within the block. */
	double cum = 0, target = 0.85 * power;
	int k = 0;
	for (float b; k + LANES <= BINS - 1 &&
		      cum + (b = spectral_sum(pw + k, LANES)) < target;
	     k += LANES)
		cum += b;
	for (; k < BINS - 1; k++) {
		cum += pw[k];
		if (cum >= target)
			break;
	}
	acc_add(&s->roll, k * hz);
	/* Flux: half the L1 distance between successive normalised
	 * spectra, 0 (same shape) to 1 (nothing in common). */
	float d = flux_update(mag, msum > 0 ? (float)(1.0 / msum) : 0, s->prev,
			      BINS);
	if (s->have_prev)
		acc_add(&s->flux, d);
	s->have_prev = true;
}

/* aubio_mfcc_do() on the magnitude: mel bands, log10, DCT, of which the
 * first FEATURES_MFCC coefficients are all that is computed. */
static void mfcc(struct spectral *s)
{
	float band[MEL_BANDS];
	for (int b = 0; b < MEL_BANDS; b++) {
		float e = spectral_dot(s->mel_w + s->mel_off[b],
				       s->mag + s->mel_lo[b], s->mel_n[b]);
		band[b] = log10f(e > 2e-42f ? e : 2e-42f);
	}
	for (int i = 0; i < FEATURES_MFCC; i++)
		acc_add(&s->mfcc_acc[i],
			spectral_dot(s->dct[i], band, MEL_BANDS));
}

const struct spectrum *spectral_do(struct spectral *s, const float *frame,
				   long index)
{
	window(fft_input(s->fft), frame, s->window);
	fft_power(s->fft, s->power);
	magnitude(s->power, s->mag, BINS);
	double power = spectral_sum(s->power, BINS);
	/* Parseval over both halves; the Hann window's sum of squares is
	 * 3N/8. */
	double both = 2 * power - s->power[0] - s->power[BINS - 1];
	s->out.mean_square = both / WIN / (3.0 * WIN / 8);
	bool do_shape = index % SHAPE_EVERY == 0;
	bool do_mfcc = index % MFCC_EVERY == 0;
	if (!do_shape && !do_mfcc)
		return &s->out;
	if (power < SILENT_POWER) {
		s->have_prev = false;
		return &s->out;
	}
	if (do_shape)
		shape(s, power);
	if (do_mfcc)
		mfcc(s);
	return &s->out;
}

void spectral_result(const struct spectral *s, float *v)
{
	v[FEAT_FLATNESS_MEAN] = acc_finite(acc_mean(&s->flat));
	v[FEAT_FLATNESS_STD] = acc_finite(acc_std(&s->flat));
	v[FEAT_ROLLOFF_MEAN] = acc_finite(acc_mean(&s->roll));
	v[FEAT_ROLLOFF_STD] = acc_finite(acc_std(&s->roll));
	v[FEAT_CENTROID_MEAN] = acc_finite(acc_mean(&s->cent));
	v[FEAT_CENTROID_STD] = acc_finite(acc_std(&s->cent));
	v[FEAT_SPECTRAL_FLUX] = acc_finite(acc_mean(&s->flux));
	v[FEAT_BASS] = acc_finite(acc_mean(&s->bass));
	for (int i = 0; i < FEATURES_MFCC_MEANS; i++)
		v[FEAT_MFCC_MEAN + i] = acc_finite(acc_mean(&s->mfcc_acc[i]));
	for (int i = 0; i < FEATURES_MFCC; i++)
		v[FEAT_MFCC_STD + i] = acc_finite(acc_std(&s->mfcc_acc[i]));
}

void spectral_free(struct spectral *s)
{
	if (!s)
		return;
	fft_free(s->fft);
	free(s->mel_w);
	free(s);
}
