#include "features/loudness.h"

#include <math.h>
#include <stdlib.h>

#include <ebur128.h>

#include "features/acc.h"
#include "features/table.h"

/* Below this the level reads -100 dBFS: silence has a finite level. */
#define FLOOR_DB -100.0
/* R128's absolute gate: no gated block means "as quiet as it gets". */
#define LOUDNESS_FLOOR -70.0

struct loudness {
	int rate;
	ebur128_state *r128;
	struct acc level;	/* hop RMS, dBFS */
	struct acc crest;	/* dB, sounding hops */
	float *rms;		/* linear RMS per hop, for low_energy */
	size_t n, cap;
	long crossings;
	long samples;
	bool last_negative;
};

struct loudness *loudness_new(int rate)
{
	struct loudness *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->rate = rate;
	if (!loudness_reset(l)) {
		loudness_free(l);
		return NULL;
	}
	return l;
}

bool loudness_reset(struct loudness *l)
{
	if (l->r128)
		ebur128_destroy(&l->r128);
	l->r128 = ebur128_init(1, (unsigned long)l->rate,
			       EBUR128_MODE_I | EBUR128_MODE_LRA |
				       EBUR128_MODE_HISTOGRAM);
	if (!l->r128)
		return false;
	l->level = (struct acc){ 0 };
	l->crest = (struct acc){ 0 };
	l->n = 0;
	l->crossings = 0;
	l->samples = 0;
	l->last_negative = false;
	return true;
}

bool loudness_add(struct loudness *l, const float *x, size_t n)
{
	return ebur128_add_frames_float(l->r128, x, n) == EBUR128_SUCCESS;
}

float loudness_hop(struct loudness *l, const float *x, size_t n)
{
	double ss = 0;
	float peak = 0;
	long zc = 0;
	bool neg = l->last_negative;
	for (size_t i = 0; i < n; i++) {
		float s = x[i];
		ss += (double)s * s;
		float a = fabsf(s);
		peak = a > peak ? a : peak;
		bool ng = s < 0;
		zc += ng != neg;
		neg = ng;
	}
	/* The first sample of a track has no predecessor. */
	if (l->samples == 0 && n > 0 && (x[0] < 0) != l->last_negative)
		zc--;
	l->last_negative = neg;
	l->crossings += zc;
	l->samples += (long)n;
	double rms = n ? sqrt(ss / (double)n) : 0;
	double db = rms > 1e-5 ? 20 * log10(rms) : FLOOR_DB;
	acc_add(&l->level, db < FLOOR_DB ? FLOOR_DB : db);
	if (rms > 1e-5)
		acc_add(&l->crest, 20 * log10(peak / rms));
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4096;
		float *p = realloc(l->rms, cap * sizeof *p);
		if (!p)
			return -1;
		l->rms = p;
		l->cap = cap;
	}
	l->rms[l->n++] = (float)rms;
	return (float)rms;
}

void loudness_result(struct loudness *l, float *v)
{
	double li = -HUGE_VAL, lra = 0;
	if (ebur128_loudness_global(l->r128, &li) != EBUR128_SUCCESS ||
	    !isfinite(li) || li < LOUDNESS_FLOOR)
		li = LOUDNESS_FLOOR;
	if (ebur128_loudness_range(l->r128, &lra) != EBUR128_SUCCESS ||
	    !isfinite(lra) || lra < 0)
		lra = 0;
	v[FEAT_LOUDNESS] = acc_finite(li);
	v[FEAT_LOUDNESS_RANGE] = acc_finite(lra);
	v[FEAT_RMS_MEAN] = l->level.n ? acc_finite(acc_mean(&l->level))
				      : (float)FLOOR_DB;
	v[FEAT_RMS_STD] = acc_finite(acc_std(&l->level));
	v[FEAT_CREST] = acc_finite(acc_mean(&l->crest));
	double mean = 0;
	for (size_t i = 0; i < l->n; i++)
		mean += l->rms[i];
	mean = l->n ? mean / (double)l->n : 0;
	long low = 0;
	for (size_t i = 0; i < l->n; i++)
		low += l->rms[i] < mean;
	v[FEAT_LOW_ENERGY] =
		acc_finite(l->n ? (double)low / (double)l->n : 0);
	v[FEAT_ZCR] = acc_finite(
		l->samples ? (double)l->crossings * l->rate / (double)l->samples
			   : 0);
}

void loudness_free(struct loudness *l)
{
	if (!l)
		return;
	if (l->r128)
		ebur128_destroy(&l->r128);
	free(l->rms);
	free(l);
}
