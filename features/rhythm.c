#include "features/rhythm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* aubio's beat tracker and peak picker without the phase vocoder that
 * aubio_tempo would add: exported by libaubio 0.4 but only declared under
 * AUBIO_UNSTABLE, hence the direct includes. */
#include <aubio/onset/peakpicker.h>
#include <aubio/tempo/beattracking.h>

#include "features/acc.h"
#include "features/table.h"

/* aubio_tempo's settings: peak-picking threshold, and a beat in a frame
 * quieter than -90 dBFS is no beat. Onsets: quieter than -70 dBFS is
 * silence, and two onsets are at least 50 ms apart (aubio_onset's
 * defaults). */
#define TEMPO_THRESHOLD 0.3
#define BEAT_SILENCE 3.16e-5f	/* -90 dBFS */
#define ONSET_SILENCE 3.16e-4f	/* -70 dBFS */
#define ONSET_MIN_IOI 0.05

struct rhythm {
	int win, hop, rate;
	aubio_specdesc_t *od;
	aubio_peakpicker_t *pp;
	aubio_beattracking_t *bt;
	fvec_t *of;
	fvec_t *onset;
	fvec_t *dfframe;
	fvec_t *out;
	uint_t winlen;
	uint_t step;
	int blockpos;
	long frame;

	bool have_beat;
	double last_beat;	/* samples */
	int last_beat_excerpt;
	float *periods;		/* beat periods, samples */
	int n_periods, cap_periods;
	double conf_sum;
	long conf_n;

	long onsets;
	long last_onset;

	float *odf;		/* onset function per frame */
	float *env;		/* RMS per frame */
	int n, cap;
};

static unsigned next_pow2(double x)
{
	unsigned p = 1;
	while (p < x)
		p <<= 1;
	return p;
}

struct rhythm *rhythm_new(int win, int hop, int rate)
{
	struct rhythm *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->win = win;
	r->hop = hop;
	r->rate = rate;
	/* aubio_tempo: about 6 s of onset function, re-tracked every
	 * quarter of it. */
	r->winlen = next_pow2(5.8 * rate / hop);
	if (r->winlen < 4)
		r->winlen = 4;
	r->step = r->winlen / 4;
	r->of = new_fvec(1);
	r->onset = new_fvec(1);
	r->dfframe = new_fvec(r->winlen);
	r->out = new_fvec(r->step);
	if (!r->of || !r->onset || !r->dfframe || !r->out ||
	    !rhythm_reset(r)) {
		rhythm_free(r);
		return NULL;
	}
	return r;
}

bool rhythm_reset(struct rhythm *r)
{
	/* aubio has no reset for these; they are small and plan no FFT. */
	if (r->od)
		del_aubio_specdesc(r->od);
	if (r->pp)
		del_aubio_peakpicker(r->pp);
	if (r->bt)
		del_aubio_beattracking(r->bt);
	r->od = new_aubio_specdesc("specflux", (uint_t)r->win);
	r->pp = new_aubio_peakpicker();
	r->bt = new_aubio_beattracking(r->winlen, (uint_t)r->hop,
				       (uint_t)r->rate);
	if (!r->od || !r->pp || !r->bt)
		return false;
	aubio_peakpicker_set_threshold(r->pp, TEMPO_THRESHOLD);
	fvec_zeros(r->dfframe);
	fvec_zeros(r->out);
	r->blockpos = 0;
	r->frame = 0;
	r->have_beat = false;
	r->n_periods = 0;
	r->conf_sum = 0;
	r->conf_n = 0;
	r->onsets = 0;
	r->last_onset = -1000000;
	r->n = 0;
	return true;
}

static bool push_period(struct rhythm *r, float p)
{
	if (r->n_periods == r->cap_periods) {
		int cap = r->cap_periods ? 2 * r->cap_periods : 256;
		float *q = realloc(r->periods, (size_t)cap * sizeof *q);
		if (!q)
			return false;
		r->periods = q;
		r->cap_periods = cap;
	}
	r->periods[r->n_periods++] = p;
	return true;
}

static bool push_frame(struct rhythm *r, float odf, float rms)
{
	if (r->n == r->cap) {
		int cap = r->cap ? 2 * r->cap : 4096;
		float *a = realloc(r->odf, (size_t)cap * sizeof *a);
		if (!a)
			return false;
		r->odf = a;
		float *b = realloc(r->env, (size_t)cap * sizeof *b);
		if (!b)
			return false;
		r->env = b;
		r->cap = cap;
	}
	r->odf[r->n] = odf;
	r->env[r->n] = rms;
	r->n++;
	return true;
}

/* The glue of aubio_tempo_do(), fed with the spectrum the other
 * descriptors share instead of a phase vocoder of its own. */
bool rhythm_do(struct rhythm *r, const cvec_t *grain, const float *hop,
	       float rms, int excerpt)
{
	(void)hop;
	uint_t winlen = r->winlen, step = r->step;
	aubio_specdesc_do(r->od, grain, r->of);
	if (r->blockpos == (int)step - 1) {
		aubio_beattracking_do(r->bt, r->dfframe, r->out);
		r->conf_sum += aubio_beattracking_get_confidence(r->bt);
		r->conf_n++;
		memmove(r->dfframe->data, r->dfframe->data + step,
			(winlen - step) * sizeof *r->dfframe->data);
		memset(r->dfframe->data + winlen - step, 0,
		       step * sizeof *r->dfframe->data);
		r->blockpos = -1;
	}
	r->blockpos++;
	aubio_peakpicker_do(r->pp, r->of, r->onset);
	fvec_t *th = aubio_peakpicker_get_thresholded_input(r->pp);
	r->dfframe->data[winlen - step + (uint_t)r->blockpos] = th->data[0];

	for (uint_t i = 1; i < r->out->data[0] && i < step; i++) {
		float pos = r->out->data[i];
		if (r->blockpos != (int)floorf(pos) || rms < BEAT_SILENCE)
			continue;
		double t = ((double)r->frame + (pos - floorf(pos))) * r->hop;
		if (r->have_beat && r->last_beat_excerpt == excerpt &&
		    t > r->last_beat)
			if (!push_period(r, (float)(t - r->last_beat)))
				return false;
		r->have_beat = true;
		r->last_beat = t;
		r->last_beat_excerpt = excerpt;
	}

	double min_ioi = ONSET_MIN_IOI * r->rate / r->hop;
	if (r->onset->data[0] > 0 && rms >= ONSET_SILENCE &&
	    r->frame - r->last_onset >= min_ioi) {
		r->onsets++;
		r->last_onset = r->frame;
	}
	r->frame++;
	return push_frame(r, r->of->data[0], rms);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

void rhythm_result(struct rhythm *r, float *v)
{
	double frame_rate = (double)r->rate / r->hop;
	double bpm = 0;
	if (r->n_periods > 0) {
		qsort(r->periods, (size_t)r->n_periods, sizeof *r->periods,
		      cmp_float);
		int m = r->n_periods / 2;
		double med = r->n_periods % 2
				     ? r->periods[m]
				     : 0.5 * (r->periods[m - 1] + r->periods[m]);
		if (med > 0)
			bpm = 60.0 * r->rate / med;
	}
	if (bpm < 0 || bpm > 300)
		bpm = 0;
	v[FEAT_TEMPO] = acc_finite(bpm);
	v[FEAT_TEMPO_CONFIDENCE] =
		acc_finite(r->conf_n ? r->conf_sum / (double)r->conf_n : 0);
	double seconds = (double)r->frame / frame_rate;
	v[FEAT_ONSET_RATE] =
		acc_finite(seconds > 0 ? (double)r->onsets / seconds : 0);
	v[FEAT_DANCEABILITY] =
		acc_finite(rhythm_dfa(r->env, r->n, 1.0 / frame_rate));
	v[FEAT_BEAT_STRENGTH] =
		acc_finite(rhythm_beat_strength(r->odf, r->n, frame_rate));
	v[FEAT_MOD4HZ] = acc_finite(rhythm_mod4hz(r->env, r->n, frame_rate));
}

void rhythm_free(struct rhythm *r)
{
	if (!r)
		return;
	if (r->od)
		del_aubio_specdesc(r->od);
	if (r->pp)
		del_aubio_peakpicker(r->pp);
	if (r->bt)
		del_aubio_beattracking(r->bt);
	if (r->of)
		del_fvec(r->of);
	if (r->onset)
		del_fvec(r->onset);
	if (r->dfframe)
		del_fvec(r->dfframe);
	if (r->out)
		del_fvec(r->out);
	free(r->periods);
	free(r->odf);
	free(r->env);
	free(r);
}

/* --- DFA ---------------------------------------------------------------- */

/* Mean squared residual of the least-squares line through y[a..a+len),
 * from prefix sums of y, y² and i·y: O(1) per window. */
static double residual(const double *s1, const double *s2, const double *s3,
		       int a, int len)
{
	double L = len;
	double sy = s1[a + len] - s1[a];
	double syy = s2[a + len] - s2[a];
	double sxy = (s3[a + len] - s3[a]) - (double)a * sy;
	double sx = L * (L - 1) / 2;
	double sxx = (L - 1) * L * (2 * L - 1) / 6;
	double varx = sxx - sx * sx / L;
	double cov = sxy - sx * sy / L;
	double vary = syy - sy * sy / L;
	double res = vary - (varx > 0 ? cov * cov / varx : 0);
	return res > 0 ? res / L : 0;
}

double rhythm_dfa(const float *x, int n, double frame_s)
{
	enum { MAX_TAUS = 64 };
	int taus[MAX_TAUS], nt = 0;
	double F[MAX_TAUS];
	if (n < 8 || !(frame_s > 0))
		return 0;
	for (double t = 0.310 / frame_s; t <= 8.8 / frame_s && nt < MAX_TAUS;
	     t *= 1.1) {
		int tau = (int)lround(t);
		if (tau < 3 || tau > n || (nt && tau == taus[nt - 1]))
			continue;
		taus[nt++] = tau;
	}
	if (nt < 2)
		return 0;
	double *s = malloc(3 * (size_t)(n + 1) * sizeof *s);
	if (!s)
		return 0;
	double *s1 = s, *s2 = s + n + 1, *s3 = s + 2 * (n + 1);
	double mean = 0;
	for (int i = 0; i < n; i++)
		mean += x[i];
	mean /= n;
	double y = 0;
	s1[0] = s2[0] = s3[0] = 0;
	for (int i = 0; i < n; i++) {
		y += x[i] - mean;	/* the integrated, centred series */
		s1[i + 1] = s1[i] + y;
		s2[i + 1] = s2[i] + y * y;
		s3[i + 1] = s3[i] + (double)i * y;
	}
	for (int j = 0; j < nt; j++) {
		int tau = taus[j], jump = tau / 50 > 1 ? tau / 50 : 1;
		double sum = 0;
		long cnt = 0;
		for (int a = 0; a + tau <= n; a += jump) {
			sum += residual(s1, s2, s3, a, tau);
			cnt++;
		}
		F[j] = cnt ? sqrt(sum / (double)cnt) : 0;
	}
	free(s);
	double alpha = 0;
	int na = 0;
	for (int j = 0; j + 1 < nt; j++) {
		if (!(F[j] > 1e-12) || !(F[j + 1] > 1e-12))
			continue;
		alpha += log10(F[j + 1] / F[j]) /
			 log10((double)taus[j + 1] / taus[j]);
		na++;
	}
	if (na == 0)
		return 0;
	alpha /= na;
	/* Essentia reports 1 / alpha; a flat fluctuation function (a strict
	 * pulse) would divide by zero: cap at 10. */
	return alpha <= 0.1 ? 10.0 : 1.0 / alpha;
}

/* --- modulation and periodicity ---------------------------------------- */

double rhythm_mod4hz(const float *x, int n, double frame_rate)
{
	int L = 128;
	if (n < 16 || !(frame_rate > 0))
		return 0;
	if (n < L)
		L = n & ~1;
	int half = L / 2;
	float *tw = malloc((size_t)(2 * L * half + L) * sizeof *tw);
	if (!tw)
		return 0;
	float *cs = tw, *sn = tw + L * half, *w = tw + 2 * L * half;
	for (int j = 0; j < half; j++)
		for (int i = 0; i < L; i++) {
			double ph = 2 * M_PI * (j + 1) * i / L;
			cs[j * L + i] = (float)cos(ph);
			sn[j * L + i] = (float)sin(ph);
		}
	for (int i = 0; i < L; i++)
		w[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / L));
	double band = 0, total = 0;
	float seg[128];
	for (int a = 0; a + L <= n; a += half) {
		double m = 0;
		for (int i = 0; i < L; i++)
			m += x[a + i];
		m /= L;
		for (int i = 0; i < L; i++)
			seg[i] = (float)((x[a + i] - m) * w[i]);
		for (int j = 0; j < half; j++) {
			double re = 0, im = 0;
			for (int i = 0; i < L; i++) {
				re += seg[i] * cs[j * L + i];
				im += seg[i] * sn[j * L + i];
			}
			double p = re * re + im * im;
			double f = (j + 1) * frame_rate / L;
			total += p;
			if (f >= 3.0 && f <= 5.0)
				band += p;
		}
	}
	free(tw);
	return total > 1e-20 ? band / total : 0;
}

double rhythm_beat_strength(const float *x, int n, double frame_rate)
{
	if (n < 8 || !(frame_rate > 0))
		return 0;
	int lo = (int)ceil(60.0 / 240 * frame_rate);
	int hi = (int)floor(60.0 / 40 * frame_rate);
	if (hi > n / 2)
		hi = n / 2;
	if (lo < 1 || hi < lo)
		return 0;
	double m = 0;
	for (int i = 0; i < n; i++)
		m += x[i];
	m /= n;
	double r0 = 0;
	for (int i = 0; i < n; i++)
		r0 += (x[i] - m) * (x[i] - m);
	if (!(r0 > 1e-20))
		return 0;
	double best = 0;
	for (int lag = lo; lag <= hi; lag++) {
		double r = 0;
		for (int i = 0; i + lag < n; i++)
			r += (x[i] - m) * (x[i + lag] - m);
		r = r / r0 * n / (n - lag);	/* unbiased */
		if (r > best)
			best = r;
	}
	return best > 1 ? 1 : best;
}
