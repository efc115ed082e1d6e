#include "features/tonal.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "features/acc.h"
#include "features/fft.h"
#include "features/spectral.h"
#include "features/table.h"

#define CHROMA_EVERY 32
#define PITCH_EVERY 16
#define CHROMA_FMIN 80.0
#define CHROMA_FMAX 5000.0
#define SOUNDING 1e-3f		/* -60 dBFS: quieter frames have no pitch */
#define VOICED_CONFIDENCE 0.7
#define VOICE_FMIN 80.0
#define VOICE_FMAX 1000.0

struct tonal {
	int rate;
	int win;
	struct fft *fft;	/* TONAL_WIN, for chroma */
	float window[TONAL_WIN];
	float power[TONAL_WIN / 2 + 1];
	struct fft *ifft;	/* win, for the pitch's autocorrelation */
	float *acf;		/* win */
	float *yin;		/* win / 2 + 1 */
	double chroma[12];
	long chroma_frames;
	long sounding;
	long voiced;
};

/* Krumhansl & Kessler (1982) key profiles, tonic first. */
static const double major_profile[12] = { 6.35, 2.23, 3.48, 2.33, 4.38, 4.09,
					  2.52, 5.19, 2.39, 3.66, 2.29, 2.88 };
static const double minor_profile[12] = { 6.33, 2.68, 3.52, 5.38, 2.60, 3.53,
					  2.54, 4.75, 3.98, 2.69, 3.34, 3.17 };

struct tonal *tonal_new(int rate, int win)
{
	struct tonal *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->rate = rate;
	t->win = win;
	for (int i = 0; i < TONAL_WIN; i++)
		t->window[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / TONAL_WIN));
	t->fft = fft_new(TONAL_WIN);
	t->ifft = fft_new(win);
	t->acf = malloc((size_t)win * sizeof *t->acf);
	t->yin = malloc((size_t)(win / 2 + 1) * sizeof *t->yin);
	if (!t->fft || !t->ifft || !t->acf || !t->yin) {
		tonal_free(t);
		return NULL;
	}
	return t;
}

void tonal_reset(struct tonal *t)
{
	memset(t->chroma, 0, sizeof t->chroma);
	t->chroma_frames = 0;
	t->sounding = 0;
	t->voiced = 0;
}

/* Adds the chroma of one long frame: spectral peaks between CHROMA_FMIN
 * and CHROMA_FMAX, their frequency refined by a parabola through the log
 * power, their energy given to the nearest pitch class. Each frame is
 * normalised to its strongest class, as HPCP does. */
static void chroma_frame(struct tonal *t, const float *hist)
{
	float *in = fft_input(t->fft);
	for (int i = 0; i < TONAL_WIN; i++)
		in[i] = hist[i] * t->window[i];
	fft_power(t->fft, t->power);
	const float *p = t->power;
	double hz = (double)t->rate / TONAL_WIN;
	int lo = (int)(CHROMA_FMIN / hz), hi = (int)(CHROMA_FMAX / hz);
	if (lo < 1)
		lo = 1;
	if (hi > TONAL_WIN / 2 - 1)
		hi = TONAL_WIN / 2 - 1;
	float peak = 0;
	for (int k = lo; k <= hi; k++)
		if (p[k] > peak)
			peak = p[k];
	/* One-sided power of a frame at -60 dBFS is about 0.19 N² 1e-6;
	 * its strongest bin's magnitude is far above 1e-4 N: quieter frames
	 * add nothing. */
	float quiet = 1e-3f * TONAL_WIN / 4 * 0.1f;
	if (peak < quiet * quiet)
		return;
	double c[12] = { 0 };
	float floor_power = peak * 1e-4f;
	for (int k = lo; k <= hi; k++) {
		if (p[k] < floor_power || p[k] <= p[k - 1] || p[k] < p[k + 1])
			continue;
		/* The parabola's vertex needs the logarithms' ratios only:
		 * the quick ones do. */
		float a = spectral_log2(p[k - 1] + 1e-24f), b = spectral_log2(p[k]),
		      g = spectral_log2(p[k + 1] + 1e-24f);
		float den = a - 2 * b + g;
		double d = den < 0 ? 0.5 * (a - g) / den : 0;
		double f = (k + d) * hz;
		double midi = 69 + 12 * log2(f / 440.0);
		int pc = ((int)floor(midi + 0.5) % 12 + 12) % 12;
		c[pc] += p[k];
	}
	double mx = 0;
	for (int i = 0; i < 12; i++)
		if (c[i] > mx)
			mx = c[i];
	if (!(mx > 0))
		return;
	for (int i = 0; i < 12; i++)
		t->chroma[i] += c[i] / mx;
	t->chroma_frames++;
}

/* fvec_quadratic_peak_pos(): the extremum of a parabola through x[i - 1],
 * x[i], x[i + 1]. */
static double parabola(const float *x, int n, int i)
{
	if (i <= 0 || i >= n - 1)
		return i;
	double a = x[i - 1], b = x[i], c = x[i + 1], den = a - 2 * b + c;
	return den != 0 ? i + 0.5 * (a - c) / den : i;
}

/* aubio_pitchyinfft_do() without the psychoacoustic weighting, from the
 * power spectrum the frame already has: the difference function from the
 * autocorrelation, its cumulative mean normalisation, the lowest period
 * roughly as good as the best, refined around it. */
double tonal_pitch(struct tonal *t, const float *power, double tolerance)
{
	int n = t->win / 2 + 1;
	double sum = 0;
	for (int l = 0; l < n; l++)
		sum += power[l];
	sum *= 2;
	fft_inverse_real(t->ifft, power, t->acf);
	float *yin = t->yin;
	double cum = 0, min = 1;
	yin[0] = 1;
	for (int tau = 1; tau < n; tau++) {
		double y = sum - t->acf[tau];
		cum += y;
		yin[tau] = cum != 0 ? (float)(y * tau / cum) : 1.0f;
		if (yin[tau] < min)
			min = yin[tau];
	}
	if (min > tolerance)
		return 0;
	int tau = 0;
	for (int l = 1; l < n; l++)
		if (fabs(yin[l] - min) < 0.1) {
			tau = l;
			break;
		}
	int before = 2, after = 5;
	if (tau > n / 2) {
		before = 1;
		after = 20;
	}
	int start = tau > before ? tau - before : 0;
	int end = tau < n - 1 - after ? tau + after : n - 1;
	float best = yin[tau];
	for (int l = start; l < end; l++)
		if (yin[l] < best) {
			best = yin[l];
			tau = l;
		}
	double period = parabola(yin, n, tau);
	return period > 0 ? t->rate / period : 0;
}

void tonal_do(struct tonal *t, const float *hist, const float *power,
	      long index, float rms)
{
	if (index % CHROMA_EVERY == CHROMA_EVERY - 1)
		chroma_frame(t, hist);
	if (index % PITCH_EVERY == PITCH_EVERY / 2 && rms >= SOUNDING) {
		double f0 = tonal_pitch(t, power, 1 - VOICED_CONFIDENCE);
		t->sounding++;
		if (f0 >= VOICE_FMIN && f0 <= VOICE_FMAX)
			t->voiced++;
	}
}

static double correlate(const double *x, const double *profile, int shift)
{
	double mx = 0, mp = 0;
	for (int i = 0; i < 12; i++) {
		mx += x[i];
		mp += profile[i];
	}
	mx /= 12;
	mp /= 12;
	double sxy = 0, sxx = 0, syy = 0;
	for (int i = 0; i < 12; i++) {
		double a = x[(i + shift) % 12] - mx, b = profile[i] - mp;
		sxy += a * b;
		sxx += a * a;
		syy += b * b;
	}
	return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

bool tonal_key(const double chroma[12], int *tonic, bool *major,
	       double *strength)
{
	double best = -2;
	*tonic = 0;
	*major = true;
	*strength = 0;
	double mn = chroma[0], mx = chroma[0];
	for (int i = 1; i < 12; i++) {
		mn = chroma[i] < mn ? chroma[i] : mn;
		mx = chroma[i] > mx ? chroma[i] : mx;
	}
	if (!(mx - mn > 1e-9 * (mx > 0 ? mx : 1)) || !(mx > 0))
		return false;
	for (int k = 0; k < 12; k++) {
		double a = correlate(chroma, major_profile, k);
		double b = correlate(chroma, minor_profile, k);
		if (a > best) {
			best = a;
			*tonic = k;
			*major = true;
		}
		if (b > best) {
			best = b;
			*tonic = k;
			*major = false;
		}
	}
	*strength = best;
	return true;
}

void tonal_result(const struct tonal *t, float *v)
{
	int tonic;
	bool major;
	double strength;
	for (int i = 0; i < 12; i++)
		v[FEAT_CHROMA + i] = 0;
	v[FEAT_VOICED] = acc_finite(
		t->sounding ? (double)t->voiced / (double)t->sounding : 0);
	if (t->chroma_frames == 0 ||
	    !tonal_key(t->chroma, &tonic, &major, &strength))
		return;
	double sum = 0;
	for (int i = 0; i < 12; i++)
		sum += t->chroma[i];
	for (int i = 0; i < 12; i++)
		v[FEAT_CHROMA + i] =
			acc_finite(sum > 0 ? t->chroma[(tonic + i) % 12] / sum
					   : 0);
}

void tonal_free(struct tonal *t)
{
	if (!t)
		return;
	fft_free(t->fft);
	fft_free(t->ifft);
	free(t->acf);
	free(t->yin);
	free(t);
}
