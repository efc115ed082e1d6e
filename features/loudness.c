#include "features/loudness.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/acc.h"
#include "features/spectral.h"
#include "features/table.h"

/* Below this the level reads -100 dBFS: silence has a finite level. */
#define FLOOR_DB -100.0
/* R128's absolute gate: no gated block means "as quiet as it gets". */
#define LOUDNESS_FLOOR -70.0
#define STEP_S 0.1
#define BLOCK_STEPS 4		/* 400 ms */
#define SHORT_STEPS 30		/* 3 s */

struct loudness {
	int rate, win, hop, bins;
	double step_len;	/* samples per 100 ms */
	float *kw;		/* (bins): |K|², Parseval and window factors */
	long frames;
	long step;		/* the step being filled */
	double step_sum;
	int step_frames;
	float *z;		/* K-weighted mean square of each step */
	size_t n, cap;
	struct acc level;	/* frame RMS, dBFS */
	long crossings;
	long samples;
	bool last_negative;
};

/* |B(e^iw)|² / |A(e^iw)|² of a biquad b0 b1 b2 / 1 a1 a2. */
static double biquad_gain2(const double *b, const double *a, double w)
{
	double c1 = cos(w), s1 = sin(w), c2 = cos(2 * w), s2 = sin(2 * w);
	double br = b[0] + b[1] * c1 + b[2] * c2, bi = -b[1] * s1 - b[2] * s2;
	double ar = 1 + a[1] * c1 + a[2] * c2, ai = -a[1] * s1 - a[2] * s2;
	double den = ar * ar + ai * ai;
	return den > 0 ? (br * br + bi * bi) / den : 0;
}

/* BS.1770's two K-weighting stages for `rate`, derived as libebur128 does
 * (a high shelf at 1682 Hz, +4 dB; a high-pass at 38 Hz), their squared
 * gain at each bin, times what turns a one-sided power spectrum of a
 * Hann-windowed frame into the frame's mean square. */
static void k_weights(struct loudness *l)
{
	double f0 = 1681.974450955533, g = 3.999843853973347;
	double q = 0.7071752369554196, k = tan(M_PI * f0 / l->rate);
	double vh = pow(10.0, g / 20.0), vb = pow(vh, 0.4996667741545416);
	double a0 = 1.0 + k / q + k * k;
	double sb[3] = { (vh + vb * k / q + k * k) / a0,
			 2.0 * (k * k - vh) / a0,
			 (vh - vb * k / q + k * k) / a0 };
	double sa[3] = { 1, 2.0 * (k * k - 1.0) / a0,
			 (1.0 - k / q + k * k) / a0 };
	f0 = 38.13547087602444;
	q = 0.5003270373238773;
	k = tan(M_PI * f0 / l->rate);
	double hb[3] = { 1, -2, 1 };
	double ha[3] = { 1, 2.0 * (k * k - 1.0) / (1.0 + k / q + k * k),
			 (1.0 - k / q + k * k) / (1.0 + k / q + k * k) };
	double norm = 1.0 / l->win / (3.0 * l->win / 8);
	for (int i = 0; i < l->bins; i++) {
		double w = 2 * M_PI * i / l->win;
		double both = i == 0 || i == l->bins - 1 ? 1 : 2;
		l->kw[i] = (float)(biquad_gain2(sb, sa, w) *
				   biquad_gain2(hb, ha, w) * both * norm);
	}
}

struct loudness *loudness_new(int rate, int win, int hop)
{
	struct loudness *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->rate = rate;
	l->win = win;
	l->hop = hop;
	l->bins = win / 2 + 1;
	l->step_len = rate * STEP_S;
	l->kw = malloc((size_t)l->bins * sizeof *l->kw);
	if (!l->kw) {
		loudness_free(l);
		return NULL;
	}
	k_weights(l);
	loudness_reset(l);
	return l;
}

void loudness_reset(struct loudness *l)
{
	l->frames = 0;
	l->step = 0;
	l->step_sum = 0;
	l->step_frames = 0;
	l->n = 0;
	l->level = (struct acc){ 0 };
	l->crossings = 0;
	l->samples = 0;
	l->last_negative = false;
}

static bool push_step(struct loudness *l, float z)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		float *p = realloc(l->z, cap * sizeof *p);
		if (!p)
			return false;
		l->z = p;
		l->cap = cap;
	}
	l->z[l->n++] = z;
	return true;
}

/* Pools the frame's K-weighted mean square into the step its centre falls
 * in; a step is stored when the next one begins. */
static bool pool(struct loudness *l, double zk)
{
	long step = (long)((double)l->frames * l->hop / l->step_len);
	while (l->step < step) {
		if (!push_step(l, (float)(l->step_frames
						  ? l->step_sum / l->step_frames
						  : 0)))
			return false;
		l->step++;
		l->step_sum = 0;
		l->step_frames = 0;
	}
	l->step_sum += zk;
	l->step_frames++;
	l->frames++;
	return true;
}

/* Sign changes in x (n), the first against the last sample of the last
 * call. Sign bits compared as integers (-0 counts as negative), in blocks
 * of a fixed count, so that the loop compiles to vector code. */
static long zero_crossings(struct loudness *l, const float *x, size_t n)
{
	long zc = 0;
	bool neg = l->last_negative;
	if (n > 0) {
		zc += (signbit(x[0]) != 0) != neg;
		neg = signbit(x[n - 1]) != 0;
	}
	size_t i = 1;
	for (; i + 32 <= n; i += 32) {
		uint32_t sum = 0;
		for (int j = 0; j < 32; j++) {
			uint32_t a, b;
			memcpy(&a, &x[i + j - 1], sizeof a);
			memcpy(&b, &x[i + j], sizeof b);
			sum += (a ^ b) >> 31;
		}
		zc += sum;
	}
	for (; i < n; i++)
		zc += (signbit(x[i]) != 0) != (signbit(x[i - 1]) != 0);
	/* The first sample of a track has no predecessor. */
	if (l->samples == 0 && n > 0 &&
	    (signbit(x[0]) != 0) != l->last_negative)
		zc--;
	l->last_negative = neg;
	return zc;
}

float loudness_frame(struct loudness *l, const float *power,
		     double mean_square, const float *hop, size_t n)
{
	if (!pool(l, spectral_dot(power, l->kw, l->bins)))
		return -1;
	l->crossings += zero_crossings(l, hop, n);
	l->samples += (long)n;
	double rms = mean_square > 0 ? sqrt(mean_square) : 0;
	double db = rms > 1e-5 ? 20 * log10(rms) : FLOOR_DB;
	acc_add(&l->level, db < FLOOR_DB ? FLOOR_DB : db);
	return (float)rms;
}

static double lufs(double z)
{
	return z > 0 ? -0.691 + 10 * log10(z) : -HUGE_VAL;
}

/* Mean square of the blocks of `len` steps starting at each step, into
 * out (n - len + 1 of them). Returns the count. */
static size_t blocks(const float *z, size_t n, int len, double *out)
{
	if (n < (size_t)len)
		return 0;
	double sum = 0;
	for (int i = 0; i < len; i++)
		sum += z[i];
	size_t m = 0;
	for (size_t i = 0;; i++) {
		out[m++] = sum / len;
		if (i + len >= n)
			break;
		sum += z[i + len] - z[i];
	}
	return m;
}

/* The blocks of b (m, mean powers) louder than the absolute gate and than
 * gate (LUFS): how many, with their summed power in *sum. */
static long gated(const double *b, size_t m, double gate, double *sum)
{
	long cnt = 0;
	*sum = 0;
	for (size_t i = 0; i < m; i++)
		if (lufs(b[i]) > LOUDNESS_FLOOR && lufs(b[i]) > gate) {
			*sum += b[i];
			cnt++;
		}
	return cnt;
}

double loudness_integrated(const float *z, size_t n)
{
	double *b = malloc((n + 1) * sizeof *b);
	if (!b)
		return LOUDNESS_FLOOR;
	size_t m = blocks(z, n, BLOCK_STEPS, b);
	double sum, li = LOUDNESS_FLOOR;
	long cnt = gated(b, m, LOUDNESS_FLOOR, &sum);
	if (cnt > 0) {
		double s2;
		long c2 = gated(b, m, lufs(sum / cnt) - 10, &s2);
		if (c2 > 0)
			li = lufs(s2 / c2);
	}
	free(b);
	return li < LOUDNESS_FLOOR ? LOUDNESS_FLOOR : li;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double loudness_range(const float *z, size_t n)
{
	double *b = malloc((n + 1) * sizeof *b);
	if (!b)
		return 0;
	size_t m = blocks(z, n, SHORT_STEPS, b);
	double sum, lra = 0;
	long cnt = gated(b, m, LOUDNESS_FLOOR, &sum);
	if (cnt > 0) {
		double gate = lufs(sum / cnt) - 20;
		size_t k = 0;
		for (size_t i = 0; i < m; i++)
			if (lufs(b[i]) > LOUDNESS_FLOOR && lufs(b[i]) > gate)
				b[k++] = lufs(b[i]);
		if (k > 0) {
			qsort(b, k, sizeof *b, cmp_double);
			lra = b[(size_t)lround(0.95 * (double)(k - 1))] -
			      b[(size_t)lround(0.10 * (double)(k - 1))];
		}
	}
	free(b);
	return lra > 0 ? lra : 0;
}

void loudness_result(struct loudness *l, float *v)
{
	/* Only whole steps count: a track shorter than a gating block has
	 * no loudness (as in libebur128). */
	size_t whole = (size_t)((double)l->samples / l->step_len);
	size_t n = l->n;
	if (l->step_frames > 0 && n < whole && push_step(l, (float)(
				l->step_sum / l->step_frames)))
		n = l->n;
	if (n > whole)
		n = whole;
	v[FEAT_LOUDNESS] = acc_finite(loudness_integrated(l->z, n));
	v[FEAT_LOUDNESS_RANGE] = acc_finite(loudness_range(l->z, n));
	v[FEAT_RMS_MEAN] = l->level.n ? acc_finite(acc_mean(&l->level))
				      : (float)FLOOR_DB;
	v[FEAT_RMS_STD] = acc_finite(acc_std(&l->level));
	v[FEAT_ZCR] = acc_finite(
		l->samples ? (double)l->crossings * l->rate / (double)l->samples
			   : 0);
}

void loudness_free(struct loudness *l)
{
	if (!l)
		return;
	free(l->kw);
	free(l->z);
	free(l);
}
