#include "features/rhythm.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* aubio's beat tracker and peak picker without the phase vocoder that
 * aubio_tempo would add: exported by libaubio 0.4 but only declared under
 * AUBIO_UNSTABLE, hence the direct includes. */
#include <aubio/aubio.h>
#include <aubio/onset/peakpicker.h>
#include <aubio/tempo/beattracking.h>

#include "features/acc.h"
#include "features/spectral.h"
#include "features/table.h"

/* aubio_tempo's settings: peak-picking threshold, and a beat in silence
 * (-90 dBFS) is no beat. Onsets: quieter than -70 dBFS is silence, and two
 * onsets are at least 50 ms apart (aubio_onset's defaults). Unlike aubio,
 * silence is judged over the last frames, not the current one: the peak
 * picker reports an onset a frame or two late (ONSET_FRAMES), and the
 * tracker predicts beats between the notes, where a frame can be silent
 * (BEAT_FRAMES, about 1.5 s). */
#define TEMPO_THRESHOLD 0.3
#define BEAT_SILENCE 3.16e-5f	/* -90 dBFS */
#define ONSET_SILENCE 3.16e-4f	/* -70 dBFS */
#define ONSET_MIN_IOI 0.05
#define ONSET_FRAMES 4
#define BEAT_FRAMES 64
/* Octave check: aubio's tracker locks onto half the tempo of fast, sparse
 * pulses (a 120 BPM click track reads 60). A tempo below OCTAVE_BPM whose
 * half period is nearly as periodic in the onset envelope as its period
 * is doubled. */
#define OCTAVE_BPM 95.0
#define OCTAVE_RATIO 0.8

struct rhythm {
	int bins, hop, rate;
	float *last_mag;	/* the previous frame's magnitude spectrum */
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
	float level[BEAT_FRAMES];	/* RMS of the last frames */

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

struct rhythm *rhythm_new(int bins, int hop, int rate)
{
	struct rhythm *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->bins = bins;
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
	r->last_mag = malloc((size_t)bins * sizeof *r->last_mag);
	if (!r->of || !r->onset || !r->dfframe || !r->out || !r->last_mag ||
	    !rhythm_reset(r)) {
		rhythm_free(r);
		return NULL;
	}
	return r;
}

bool rhythm_reset(struct rhythm *r)
{
	/* aubio has no reset for these; they are small and plan no FFT. */
	if (r->pp)
		del_aubio_peakpicker(r->pp);
	if (r->bt)
		del_aubio_beattracking(r->bt);
	r->pp = new_aubio_peakpicker();
	r->bt = new_aubio_beattracking(r->winlen, (uint_t)r->hop,
				       (uint_t)r->rate);
	if (!r->pp || !r->bt)
		return false;
	memset(r->last_mag, 0, (size_t)r->bins * sizeof *r->last_mag);
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
	memset(r->level, 0, sizeof r->level);
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

/* aubio's "specflux" onset function: the rise of the magnitude spectrum
 * since the last frame, summed over the bins. The rises of a block go to
 * an array first, so that the loop compiles to vector code. */
static float specflux(float *restrict last, const float *restrict mag,
		      int n)
{
	float rise[32];
	float s = 0;
	int k = 0;
	for (; k + 32 <= n; k += 32) {
		for (int j = 0; j < 32; j++) {
			/* max(d, 0), written without a branch */
			float d = mag[k + j] - last[k + j];
			rise[j] = (d + fabsf(d)) * 0.5f;
			last[k + j] = mag[k + j];
		}
		s += spectral_sum(rise, 32);
	}
	for (; k < n; k++) {
		float d = mag[k] - last[k];
		s += d > 0 ? d : 0;
		last[k] = mag[k];
	}
	return s;
}

/* The glue of aubio_tempo_do(), fed with the spectrum the other
 * descriptors share instead of a phase vocoder of its own. */
bool rhythm_do(struct rhythm *r, const float *mag, float rms, int excerpt)
{
	uint_t winlen = r->winlen, step = r->step;
	r->level[r->frame % BEAT_FRAMES] = rms;
	float beat_level = 0, onset_level = 0;
	for (int i = 0; i < BEAT_FRAMES; i++)
		if (r->level[i] > beat_level)
			beat_level = r->level[i];
	for (long f = r->frame; f > r->frame - ONSET_FRAMES && f >= 0; f--) {
		float l = r->level[f % BEAT_FRAMES];
		onset_level = l > onset_level ? l : onset_level;
	}
	r->of->data[0] = specflux(r->last_mag, mag, r->bins);
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
		if (r->blockpos != (int)floorf(pos) ||
		    beat_level < BEAT_SILENCE)
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
	if (r->onset->data[0] > 0 && onset_level >= ONSET_SILENCE &&
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

/* Normalised, unbiased autocorrelation of the centred x at an integer lag.
 */
static double acf(const float *x, int n, double mean, double r0, int lag)
{
	if (lag <= 0 || lag >= n || !(r0 > 0))
		return lag == 0 ? 1 : 0;
	double r = 0;
	for (int i = 0; i + lag < n; i++)
		r += (x[i] - mean) * (x[i + lag] - mean);
	return r / r0 * n / (n - lag);
}

/* The same at a fractional lag, linearly interpolated. */
static double acf_at(const float *x, int n, double mean, double r0,
		     double lag)
{
	int a = (int)floor(lag);
	double f = lag - a;
	return (1 - f) * acf(x, n, mean, r0, a) +
	       f * acf(x, n, mean, r0, a + 1);
}

/* Smooths the onset envelope with a binomial kernel (1 4 6 4 1) / 16, so
 * that a pulse whose period falls between two frames still correlates at
 * either neighbour. Returns a new array (caller frees) or NULL. */
static float *smooth(const float *x, int n)
{
	static const float k[5] = { 1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f,
				    1 / 16.f };
	float *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
	if (!y)
		return NULL;
	for (int i = 0; i < n; i++) {
		float s = 0;
		for (int j = -2; j <= 2; j++) {
			int t = i + j < 0 ? 0 : i + j >= n ? n - 1 : i + j;
			s += k[j + 2] * x[t];
		}
		y[i] = s;
	}
	return y;
}

/* The mean of y (n) and, in *r0, its energy about the mean: the lag-0
 * term that normalises the autocorrelation. */
static double mean_energy(const float *y, int n, double *r0)
{
	double mean = 0;
	for (int i = 0; i < n; i++)
		mean += y[i];
	mean /= n;
	*r0 = 0;
	for (int i = 0; i < n; i++)
		*r0 += (y[i] - mean) * (y[i] - mean);
	return mean;
}

/* Doubles bpm when its half period is (nearly) as periodic as its period
 * in the smoothed onset envelope y. */
static double octave_check(const float *y, int n, double frame_rate,
			   double bpm)
{
	if (!(bpm > 0) || bpm > OCTAVE_BPM || n < 16)
		return bpm;
	double r0, mean = mean_energy(y, n, &r0);
	double lag = 60.0 / bpm * frame_rate;
	if (lag + 1 >= n || lag / 2 < 2)
		return bpm;
	double full = acf_at(y, n, mean, r0, lag);
	double half = acf_at(y, n, mean, r0, lag / 2);
	return full > 0 && half >= OCTAVE_RATIO * full ? 2 * bpm : bpm;
}

/* Refines bpm to the autocorrelation peak of the smoothed onset envelope
 * within 4% of k periods, k as large as about 4 s allows: the tracker's
 * beat periods are whole frames plus a guess, and the error of a peak
 * found at k periods is divided by k. */
static double refine(const float *y, int n, double frame_rate, double bpm)
{
	if (!(bpm > 0) || n < 16)
		return bpm;
	double r0, mean = mean_energy(y, n, &r0);
	double period = 60.0 / bpm * frame_rate;
	int k = (int)(4.0 * frame_rate / period);
	while (k > 1 && k * period * 1.05 + 2 >= n / 2)
		k--;
	if (k < 1)
		k = 1;
	double c = k * period;
	int lo = (int)floor(c * 0.96), hi = (int)ceil(c * 1.04);
	if (lo < 2 || hi + 1 >= n)
		return bpm;
	int best = lo;
	double bv = -2;
	for (int j = lo; j <= hi; j++) {
		double a = acf(y, n, mean, r0, j);
		if (a > bv) {
			bv = a;
			best = j;
		}
	}
	if (best == lo || best == hi || !(bv > 0))
		return bpm;
	double a = acf(y, n, mean, r0, best - 1);
	double g = acf(y, n, mean, r0, best + 1);
	double den = a - 2 * bv + g;
	double d = den < 0 ? 0.5 * (a - g) / den : 0;
	return 60.0 * frame_rate * k / (best + d);
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
				     : 0.5 * (r->periods[m - 1] +
					      r->periods[m]);
		if (med > 0)
			bpm = 60.0 * r->rate / med;
	}
	float *sm = smooth(r->odf, r->n);
	if (sm) {
		bpm = octave_check(sm, r->n, frame_rate, bpm);
		bpm = refine(sm, r->n, frame_rate, bpm);
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
	v[FEAT_BEAT_STRENGTH] = acc_finite(
		rhythm_beat_strength(sm ? sm : r->odf, r->n, frame_rate));
	free(sm);
	v[FEAT_MOD4HZ] = acc_finite(rhythm_mod4hz(r->env, r->n, frame_rate));
}

void rhythm_free(struct rhythm *r)
{
	if (!r)
		return;
	if (r->pp)
		del_aubio_peakpicker(r->pp);
	if (r->bt)
		del_aubio_beattracking(r->bt);
	free(r->last_mag);
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

/* Per segment of L values (Hann, mean removed), the power at 3-5 Hz is
 * summed from those few DFT bins; the total over bins 1 .. L/2 comes from
 * Parseval's theorem: L times the energy, less the bins at 0 and L/2, whose
 * values are the plain and the alternating sums, halved for the one-sided
 * spectrum. */
double rhythm_mod4hz(const float *x, int n, double frame_rate)
{
	int L = 128;
	if (n < 16 || !(frame_rate > 0))
		return 0;
	if (n < L)
		L = n & ~1;
	int half = L / 2;
	int lo = (int)ceil(3.0 * L / frame_rate) - 1;
	int hi = (int)floor(5.0 * L / frame_rate) - 1;
	if (lo < 0)
		lo = 0;
	if (hi > half - 1)
		hi = half - 1;
	int nb = hi >= lo ? hi - lo + 1 : 0;
	float *tw = malloc((size_t)(2 * L * (nb > 0 ? nb : 1) + L) * sizeof *tw);
	if (!tw)
		return 0;
	float *cs = tw, *sn = tw + L * nb, *w = tw + 2 * L * nb;
	for (int b = 0; b < nb; b++)
		for (int i = 0; i < L; i++) {
			double ph = 2 * M_PI * (lo + b + 1) * i / L;
			cs[b * L + i] = (float)cos(ph);
			sn[b * L + i] = (float)sin(ph);
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
		double energy = 0, dc = 0, alt = 0;
		for (int i = 0; i < L; i++) {
			seg[i] = (float)((x[a + i] - m) * w[i]);
			energy += (double)seg[i] * seg[i];
			dc += seg[i];
			alt += i % 2 ? -seg[i] : seg[i];
		}
		total += (L * energy - dc * dc - alt * alt) / 2 + alt * alt;
		for (int b = 0; b < nb; b++) {
			double re = 0, im = 0;
			for (int i = 0; i < L; i++) {
				re += seg[i] * cs[b * L + i];
				im += seg[i] * sn[b * L + i];
			}
			band += re * re + im * im;
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
		double r = acf(x, n, m, r0, lag);
		if (r > best)
			best = r;
	}
	return best > 1 ? 1 : best;
}
