#include "features/spectral.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/acc.h"
#include "features/table.h"

#define BINS (SPECTRAL_WIN / 2 + 1)

/* Spectral shape every SHAPE_EVERY frames, MFCC every MFCC_EVERY frames:
 * means and spreads over a track need no more, and aubio's dense mel filter
 * bank is the costliest step of the analysis. */
#define SHAPE_EVERY 2
#define MFCC_EVERY 8
#define MEL_BANDS 40

/* One-sided power of a Hann-windowed frame is about 0.1875 N² r² for a
 * signal of RMS r: frames below -80 dBFS count as silence. */
#define SILENT_POWER (0.1875 * SPECTRAL_WIN * SPECTRAL_WIN * 1e-8)

struct spectral {
	int rate;
	aubio_fft_t *fft;
	fvec_t *window;
	fvec_t *in;
	fvec_t *compspec;
	cvec_t *grain;
	aubio_mfcc_t *mfcc;
	fvec_t *mfcc_out;
	float prev[BINS];	/* last normalised magnitude spectrum */
	bool have_prev;
	struct acc flat, roll, cent, flux;
	struct acc mfcc_acc[FEATURES_MFCC];
};

struct spectral *spectral_new(int rate)
{
	struct spectral *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->rate = rate;
	s->fft = new_aubio_fft(SPECTRAL_WIN);
	s->window = new_aubio_window("hanningz", SPECTRAL_WIN);
	s->in = new_fvec(SPECTRAL_WIN);
	s->compspec = new_fvec(SPECTRAL_WIN);
	s->grain = new_cvec(SPECTRAL_WIN);
	s->mfcc = new_aubio_mfcc(SPECTRAL_WIN, MEL_BANDS, FEATURES_MFCC,
				 (uint_t)rate);
	s->mfcc_out = new_fvec(FEATURES_MFCC);
	if (!s->fft || !s->window || !s->in || !s->compspec || !s->grain ||
	    !s->mfcc || !s->mfcc_out)
		goto fail;
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
	memset(s->mfcc_acc, 0, sizeof s->mfcc_acc);
}

/* log2 to about 0.01: the flatness of 513 bins needs 513 logarithms per
 * frame, and a percent of error in a geometric mean is harmless. */
static inline float fast_log2(float x)
{
	union {
		float f;
		uint32_t i;
	} v = { x };
	float e = (float)((int)((v.i >> 23) & 255) - 128);
	v.i = (v.i & 0x007fffff) | 0x3f800000;
	float m = v.f;
	return e + (-0.34484843f * m + 2.02466578f) * m - 0.67487759f;
}

static void shape(struct spectral *s, const float *mag, double power)
{
	const double hz = (double)s->rate / SPECTRAL_WIN;
	double msum = 0, wsum = 0, logsum = 0;
	for (int k = 0; k < BINS; k++) {
		float m = mag[k];
		msum += m;
		wsum += (double)k * m;
		logsum += fast_log2(m * m + 1e-12f);
	}
	/* Flatness: geometric over arithmetic mean of the power. */
	double gm = exp2(logsum / BINS);
	double flat = gm / (power / BINS + 1e-12);
	acc_add(&s->flat, flat > 1 ? 1 : flat);
	acc_add(&s->cent, msum > 0 ? wsum / msum * hz : 0);
	double cum = 0, target = 0.85 * power;
	int k = 0;
	for (; k < BINS - 1; k++) {
		cum += (double)mag[k] * mag[k];
		if (cum >= target)
			break;
	}
	acc_add(&s->roll, k * hz);

	/* Flux: half the L1 distance between successive normalised
	 * spectra, 0 (same shape) to 1 (nothing in common). */
	float inv = msum > 0 ? (float)(1.0 / msum) : 0;
	double d = 0;
	for (k = 0; k < BINS; k++) {
		float q = mag[k] * inv;
		d += fabsf(q - s->prev[k]);
		s->prev[k] = q;
	}
	if (s->have_prev)
		acc_add(&s->flux, d / 2);
	s->have_prev = true;
}

const cvec_t *spectral_do(struct spectral *s, const float *frame, long index)
{
	const float *w = s->window->data;
	float *in = s->in->data;
	for (int i = 0; i < SPECTRAL_WIN; i++)
		in[i] = frame[i] * w[i];
	aubio_fft_do_complex(s->fft, s->in, s->compspec);
	aubio_fft_get_norm(s->compspec, s->grain);

	bool do_shape = index % SHAPE_EVERY == 0;
	bool do_mfcc = index % MFCC_EVERY == 0;
	if (!do_shape && !do_mfcc)
		return s->grain;
	const float *mag = s->grain->norm;
	double power = 0;
	for (int k = 0; k < BINS; k++)
		power += (double)mag[k] * mag[k];
	if (power < SILENT_POWER) {
		s->have_prev = false;
		return s->grain;
	}
	if (do_shape)
		shape(s, mag, power);
	if (do_mfcc) {
		aubio_mfcc_do(s->mfcc, s->grain, s->mfcc_out);
		for (int i = 0; i < FEATURES_MFCC; i++)
			acc_add(&s->mfcc_acc[i], s->mfcc_out->data[i]);
	}
	return s->grain;
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
	for (int i = 0; i < FEATURES_MFCC; i++) {
		v[FEAT_MFCC_MEAN + i] = acc_finite(acc_mean(&s->mfcc_acc[i]));
		v[FEAT_MFCC_STD + i] = acc_finite(acc_std(&s->mfcc_acc[i]));
	}
}

void spectral_free(struct spectral *s)
{
	if (!s)
		return;
	if (s->fft)
		del_aubio_fft(s->fft);
	if (s->window)
		del_fvec(s->window);
	if (s->in)
		del_fvec(s->in);
	if (s->compspec)
		del_fvec(s->compspec);
	if (s->grain)
		del_cvec(s->grain);
	if (s->mfcc)
		del_aubio_mfcc(s->mfcc);
	if (s->mfcc_out)
		del_fvec(s->mfcc_out);
	free(s);
}
