#include "features/tonal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <aubio/aubio.h>

#include "features/acc.h"
#include "features/table.h"

#define CHROMA_EVERY 32
#define PITCH_EVERY 4
#define CHROMA_FMIN 80.0
#define CHROMA_FMAX 5000.0
#define SOUNDING 1e-3f		/* -60 dBFS: quieter frames have no pitch */
#define VOICED_CONFIDENCE 0.7
#define VOICE_FMIN 80.0
#define VOICE_FMAX 1000.0

struct tonal {
	int rate;
	int win;
	aubio_fft_t *fft;
	fvec_t *window;
	fvec_t *in;
	fvec_t *compspec;
	cvec_t *grain;
	aubio_pitch_t *pitch;
	fvec_t *pitch_in;	/* borrows its data pointer per call */
	smpl_t *pitch_own;	/* the pointer new_fvec gave, restored */
	fvec_t *pitch_out;
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
	t->fft = new_aubio_fft(TONAL_WIN);
	t->window = new_aubio_window("hanningz", TONAL_WIN);
	t->in = new_fvec(TONAL_WIN);
	t->compspec = new_fvec(TONAL_WIN);
	t->grain = new_cvec(TONAL_WIN);
	/* hop = window: every call is a fresh frame, so frames can be
	 * skipped. */
	t->pitch = new_aubio_pitch("yinfft", (uint_t)win, (uint_t)win,
				   (uint_t)rate);
	t->pitch_in = new_fvec((uint_t)win);
	t->pitch_out = new_fvec(1);
	if (!t->fft || !t->window || !t->in || !t->compspec || !t->grain ||
	    !t->pitch || !t->pitch_in || !t->pitch_out) {
		tonal_free(t);
		return NULL;
	}
	t->pitch_own = t->pitch_in->data;
	aubio_pitch_set_unit(t->pitch, "Hz");
	/* yinfft answers 0 Hz unless the best period's YIN value is below
	 * the tolerance: with tolerance 1 - VOICED_CONFIDENCE, an answer is a
	 * confident pitch. aubio_pitch_get_confidence() cannot be used: in
	 * aubio 0.4.9 yinfft reports 0 for every pitch below about 1300 Hz
	 * (its peak position is only recorded for short periods). */
	aubio_pitch_set_tolerance(t->pitch, 1 - VOICED_CONFIDENCE);
	aubio_pitch_set_silence(t->pitch, -60);
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
 * magnitudes, their energy given to the nearest pitch class. Each frame is
 * normalised to its strongest class, as HPCP does. */
static void chroma_frame(struct tonal *t, const float *hist)
{
	const float *w = t->window->data;
	for (int i = 0; i < TONAL_WIN; i++)
		t->in->data[i] = hist[i] * w[i];
	aubio_fft_do_complex(t->fft, t->in, t->compspec);
	aubio_fft_get_norm(t->compspec, t->grain);
	const float *m = t->grain->norm;
	double hz = (double)t->rate / TONAL_WIN;
	int lo = (int)(CHROMA_FMIN / hz), hi = (int)(CHROMA_FMAX / hz);
	if (lo < 1)
		lo = 1;
	if (hi > TONAL_WIN / 2 - 1)
		hi = TONAL_WIN / 2 - 1;
	float peak = 0;
	for (int k = lo; k <= hi; k++)
		if (m[k] > peak)
			peak = m[k];
	/* One-sided power of a frame at -60 dBFS is about 0.19 N² 1e-6;
	 * its strongest bin is far above 1e-3 N: quieter frames add
	 * nothing. */
	if (peak < 1e-3f * TONAL_WIN / 4 * 0.1f)
		return;
	double c[12] = { 0 };
	float floor_mag = peak * 1e-2f;
	for (int k = lo; k <= hi; k++) {
		if (m[k] < floor_mag || m[k] <= m[k - 1] || m[k] < m[k + 1])
			continue;
		double a = log(m[k - 1] + 1e-12), b = log(m[k] + 1e-12),
		       g = log(m[k + 1] + 1e-12);
		double den = a - 2 * b + g;
		double d = den < 0 ? 0.5 * (a - g) / den : 0;
		double f = (k + d) * hz;
		double midi = 69 + 12 * log2(f / 440.0);
		int pc = ((int)lround(midi) % 12 + 12) % 12;
		c[pc] += (double)m[k] * m[k];
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

static void pitch_frame(struct tonal *t, const float *frame)
{
	/* aubio only reads the input. */
	t->pitch_in->data = (smpl_t *)frame;
	aubio_pitch_do(t->pitch, t->pitch_in, t->pitch_out);
	t->pitch_in->data = t->pitch_own;
	double f0 = t->pitch_out->data[0];
	t->sounding++;
	if (f0 >= VOICE_FMIN && f0 <= VOICE_FMAX)
		t->voiced++;
}

void tonal_do(struct tonal *t, const float *hist, long index, float rms)
{
	if (index % CHROMA_EVERY == CHROMA_EVERY - 1)
		chroma_frame(t, hist);
	if (index % PITCH_EVERY == PITCH_EVERY / 2 && rms >= SOUNDING)
		pitch_frame(t, hist + TONAL_WIN - t->win);
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
	v[FEAT_KEY_SIN] = v[FEAT_KEY_COS] = v[FEAT_MODE] = 0;
	v[FEAT_KEY_STRENGTH] = 0;
	v[FEAT_VOICED] = acc_finite(
		t->sounding ? (double)t->voiced / (double)t->sounding : 0);
	if (t->chroma_frames == 0 ||
	    !tonal_key(t->chroma, &tonic, &major, &strength))
		return;
	/* A minor key sits where its relative major does on the circle. */
	int rel = major ? tonic : (tonic + 3) % 12;
	int pos = rel * 7 % 12;
	double ang = 2 * M_PI * pos / 12;
	v[FEAT_KEY_SIN] = acc_finite(sin(ang));
	v[FEAT_KEY_COS] = acc_finite(cos(ang));
	v[FEAT_MODE] = major ? 1.0f : 0.0f;
	v[FEAT_KEY_STRENGTH] = acc_finite(strength);
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
	if (t->fft)
		del_aubio_fft(t->fft);
	if (t->window)
		del_fvec(t->window);
	if (t->in)
		del_fvec(t->in);
	if (t->compspec)
		del_fvec(t->compspec);
	if (t->grain)
		del_cvec(t->grain);
	if (t->pitch)
		del_aubio_pitch(t->pitch);
	if (t->pitch_in) {
		if (t->pitch_own)
			t->pitch_in->data = t->pitch_own;
		del_fvec(t->pitch_in);
	}
	if (t->pitch_out)
		del_fvec(t->pitch_out);
	free(t);
}
