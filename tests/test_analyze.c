/* features/analyze: known answers on generated fixtures (tempo of click
 * tracks, R128 loudness of a sine and against ffmpeg's ebur128 meter,
 * chroma rotated to the key of triads, bass share, flatness, 4 Hz
 * modulation, danceability, voiced share), the same vector from every
 * format, nothing but finite numbers on degenerate input, failures with a
 * reason, and the same results from concurrent threads. */
#include "features/analyze.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/loudness.h"
#include "features/rhythm.h"
#include "features/tonal.h"
#include "tests/lib/fixture.h"
#include "tests/lib/harness.h"

enum { RATE = 44100 };

static const char *dir;
static const struct analyze_opts opts = { .max_seconds = 120,
					  .timeout_s = 60 };

/* Analyses x (n samples at RATE) written as a WAV called name. */
static bool analyse(const char *name, const float *x, size_t n, float *v)
{
	char err[256] = "";
	double dur;
	char *p = fixture_wav(dir, name, x, n, RATE);
	if (!CHECK_MSG(p, "cannot write %s", name))
		return false;
	bool ok = analyze_file(p, &opts, v, &dur, err, sizeof err);
	CHECK_MSG(ok, "%s: %s", name, err);
	if (ok)
		CHECK_NEAR(dur, (double)n / RATE, 0.01);
	free(p);
	return ok;
}

static void test_table(void)
{
	int n = features_count();
	CHECK_INT(n, FEAT_COUNT);
	for (int i = 0; i < n; i++) {
		const struct feature_info *f = features_info(i);
		CHECK_MSG(f && f->name && *f->name && f->unit && f->help &&
				  *f->help,
			  "entry %d incomplete", i);
		if (!f || !f->name)
			continue;
		CHECK_INT(features_find(f->name), i);
		for (const char *c = f->name; *c; c++)
			CHECK_MSG((*c >= 'a' && *c <= 'z') ||
					  (*c >= '0' && *c <= '9') || *c == '_',
				  "name %s", f->name);
	}
	CHECK_INT(features_find("tempo"), FEAT_TEMPO);
	CHECK_INT(features_find("duration"), FEAT_DURATION);
	CHECK_INT(features_find("nonsense"), -1);
	CHECK_STR(features_info(FEAT_LOUDNESS)->unit, "LUFS");
	CHECK_STR(features_info(FEAT_TEMPO)->unit, "BPM");
	CHECK(FEATURES_VERSION >= 2);
	/* Version 2 dropped what carried nothing on real music. */
	const char *gone[] = { "key_sin", "key_cos", "mode", "key_strength",
			       "crest", "low_energy", "mfcc_mean_7",
			       "mfcc_mean_12" };
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
		CHECK_MSG(features_find(gone[i]) == -1, "%s is back", gone[i]);
	CHECK_INT(features_find("mfcc_std_12"), FEAT_MFCC_STD + 12);
	CHECK_INT(features_find("bass"), FEAT_BASS);
}

static void test_tempo_of_clicks(void)
{
	enum { N = 20 * RATE };
	static float x[N];
	float v[FEAT_COUNT];
	const double bpms[] = { 90, 120, 150 };
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof name, "clicks%.0f.wav", bpms[i]);
		fixture_clicks(x, N, RATE, bpms[i], 0.8);
		if (!analyse(name, x, N, v))
			continue;
		CHECK_MSG(fabs(v[FEAT_TEMPO] - bpms[i]) <= 0.02 * bpms[i],
			  "%g BPM measured as %g", bpms[i], v[FEAT_TEMPO]);
		CHECK_MSG(fabs(v[FEAT_ONSET_RATE] - bpms[i] / 60) <
				  0.15 * bpms[i] / 60,
			  "%g BPM: %g onsets/s", bpms[i], v[FEAT_ONSET_RATE]);
		CHECK(v[FEAT_TEMPO_CONFIDENCE] > 0);
	}
}

/* BS.1770: a mono sine of peak A at 1 kHz (where the K filter's gain and
 * the -0.691 dB offset cancel) reads 20 log10(A) - 3.01 LUFS. */
static void test_loudness_of_sine(void)
{
	enum { N = 10 * RATE };
	static float x[N];
	float v[FEAT_COUNT];
	const double amps[] = { 0.1, 0.5 };
	for (int i = 0; i < 2; i++) {
		fixture_sine(x, N, RATE, 1000, amps[i]);
		if (!analyse("sine1k.wav", x, N, v))
			continue;
		double want = 20 * log10(amps[i]) - 3.01;
		CHECK_NEAR(v[FEAT_LOUDNESS], want, 0.5);
		CHECK_NEAR(v[FEAT_LOUDNESS_RANGE], 0, 0.5);
		/* RMS of a sine is peak / sqrt 2. */
		CHECK_NEAR(v[FEAT_RMS_MEAN], 20 * log10(amps[i] / sqrt(2)),
			   0.3);
		CHECK_NEAR(v[FEAT_ZCR], 2000, 20);
		CHECK(v[FEAT_BASS] < 0.01);
		CHECK_NEAR(v[FEAT_CENTROID_MEAN], 1000, 100);
		CHECK(v[FEAT_VOICED] < 0.1); /* 1 kHz is above the voice */
	}
}

static void check_key(const char *name, const int *notes, int want_tonic,
		      bool want_major, const int *degrees)
{
	enum { N = 8 * RATE };
	static float x[N];
	float v[FEAT_COUNT];
	double hz[3];
	for (int i = 0; i < 3; i++)
		hz[i] = fixture_note(notes[i]);
	fixture_chord(x, N, RATE, hz, 3, 0.6);
	if (!analyse(name, x, N, v))
		return;
	/* The chroma is rotated to the key's tonic: the triad at the tonic,
	 * the third (major or minor: the mode) and the fifth. */
	(void)want_tonic;
	(void)want_major;
	double triad = 0;
	for (int i = 0; i < 3; i++)
		triad += v[FEAT_CHROMA + degrees[i]];
	CHECK_MSG(triad > 0.9, "%s: triad share %g", name, triad);
	CHECK(v[FEAT_CHROMA] > 0.2);
	double sum = 0;
	for (int i = 0; i < 12; i++)
		sum += v[FEAT_CHROMA + i];
	CHECK_NEAR(sum, 1, 1e-3);
}

static void test_key_of_triads(void)
{
	const int c_major[] = { 60, 64, 67 };	/* C4 E4 G4 */
	const int a_minor[] = { 57, 60, 64 };	/* A3 C4 E4 */
	const int g_major[] = { 55, 59, 62 };	/* G3 B3 D4 */
	const int d_minor[] = { 62, 65, 69 };	/* D4 F4 A4 */
	const int major[] = { 0, 4, 7 }, minor[] = { 0, 3, 7 };
	check_key("cmajor.wav", c_major, 0, true, major);
	check_key("aminor.wav", a_minor, 9, false, minor);
	check_key("gmajor.wav", g_major, 7, true, major);
	check_key("dminor.wav", d_minor, 2, false, minor);
}

static void test_key_profiles(void)
{
	int tonic;
	bool major;
	double strength;
	double flat[12] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	CHECK(!tonal_key(flat, &tonic, &major, &strength));
	double zero[12] = { 0 };
	CHECK(!tonal_key(zero, &tonic, &major, &strength));
	/* F major scale, tonic weighted. */
	double f[12] = { 1, 0, 0.5, 0, 0.5, 2, 0, 0.5, 0, 1, 0.8, 0 };
	CHECK(tonal_key(f, &tonic, &major, &strength));
	CHECK_INT(tonic, 5);
	CHECK(major);
}

static void test_flatness_noise_vs_tone(void)
{
	enum { N = 5 * RATE };
	static float x[N];
	float noise[FEAT_COUNT], tone[FEAT_COUNT];
	fixture_noise(x, N, 0.5, 1);
	if (!analyse("noise.wav", x, N, noise))
		return;
	fixture_sine(x, N, RATE, 440, 0.5);
	if (!analyse("tone.wav", x, N, tone))
		return;
	CHECK_MSG(noise[FEAT_FLATNESS_MEAN] > 0.4, "noise %g",
		  noise[FEAT_FLATNESS_MEAN]);
	CHECK_MSG(tone[FEAT_FLATNESS_MEAN] < 0.01, "tone %g",
		  tone[FEAT_FLATNESS_MEAN]);
	CHECK(noise[FEAT_CENTROID_MEAN] > 3 * tone[FEAT_CENTROID_MEAN]);
	CHECK(noise[FEAT_ROLLOFF_MEAN] > 5000);
	CHECK(noise[FEAT_ZCR] > 5 * tone[FEAT_ZCR]);
	/* A 440 Hz tone is a confident pitch in the vocal range. */
	CHECK_MSG(tone[FEAT_VOICED] > 0.9, "tone voiced %g", tone[FEAT_VOICED]);
	CHECK_MSG(noise[FEAT_VOICED] < 0.1, "noise voiced %g",
		  noise[FEAT_VOICED]);
}

/* The bass share: power below 150 Hz. */
static void test_bass(void)
{
	enum { N = 4 * RATE };
	static float x[N];
	float low[FEAT_COUNT], high[FEAT_COUNT];
	fixture_sine(x, N, RATE, 60, 0.5);
	if (!analyse("bass60.wav", x, N, low))
		return;
	fixture_sine(x, N, RATE, 2000, 0.5);
	if (!analyse("treble.wav", x, N, high))
		return;
	CHECK_MSG(low[FEAT_BASS] > 0.95, "60 Hz: %g", low[FEAT_BASS]);
	CHECK_MSG(high[FEAT_BASS] < 0.01, "2 kHz: %g", high[FEAT_BASS]);
}

/* What ffmpeg's ebur128 filter (another R128 meter) reads of path: the
 * integrated loudness and the loudness range. */
static bool ffmpeg_r128(const char *path, double *li, double *lra)
{
	char cmd[4400], out[4300];
	snprintf(out, sizeof out, "%s.r128", path);
	snprintf(cmd, sizeof cmd,
		 "ffmpeg -nostdin -hide_banner -i '%s' -af ebur128 -f null - "
		 "2>'%s'", path, out);
	if (system(cmd) != 0)
		return false;
	FILE *f = fopen(out, "r");
	if (!f)
		return false;
	char line[512];
	bool summary = false, got_i = false, got_lra = false;
	while (fgets(line, sizeof line, f)) {
		summary |= strstr(line, "Summary:") != NULL;
		const char *p;
		if (summary && (p = strstr(line, "I:")) && !got_i)
			got_i = sscanf(p, "I: %lf", li) == 1;
		if (summary && (p = strstr(line, "LRA:")) && !got_lra)
			got_lra = sscanf(p, "LRA: %lf", lra) == 1;
	}
	fclose(f);
	return got_i && got_lra;
}

/* Loudness from the frames' spectra against a time-domain meter, on
 * music-like audio and on EBU Tech 3342's kind of test (two levels in
 * turn: the range is their difference). */
static void test_loudness_against_ffmpeg(void)
{
	enum { N = 40 * 22050 };
	static float x[N], y[N];
	fixture_clicks(x, N, 22050, 110, 0.4);
	double hz[3] = { fixture_note(50), fixture_note(57), fixture_note(64) };
	fixture_chord(y, N, 22050, hz, 3, 0.3);
	for (size_t i = 0; i < N; i++)
		x[i] += y[i] * (float)(0.5 + 0.5 * sin(2 * M_PI * 0.1 * i /
							22050));
	fixture_noise(y, N, 0.05, 17);
	for (size_t i = 0; i < N; i++)
		x[i] += y[i];
	/* At the analysis rate: ffmpeg's meter hears the same band (at
	 * 44.1 kHz it would also weigh the noise above 11 kHz, which
	 * analysis leaves out). */
	float v[FEAT_COUNT];
	char err[256];
	char *p = fixture_wav(dir, "r128-music.wav", x, N, 22050);
	double li, lra, dur;
	if (CHECK(p) && CHECK_MSG(analyze_file(p, &opts, v, &dur, err,
					       sizeof err), "%s", err) &&
	    CHECK_MSG(ffmpeg_r128(p, &li, &lra), "ffmpeg's ebur128 failed")) {
		CHECK_NEAR(v[FEAT_LOUDNESS], li, 0.5);
		CHECK_NEAR(v[FEAT_LOUDNESS_RANGE], lra, 1.0);
	}
	free(p);
	/* 20 s of 1 kHz at -20 dBFS RMS, then 20 s at -30: LRA 10 LU. */
	for (size_t i = 0; i < N; i++) {
		double a = (i < N / 2 ? 0.1 : 0.0316) * sqrt(2);
		x[i] = (float)(a * sin(2 * M_PI * 1000.0 * i / 22050));
	}
	p = fixture_wav(dir, "r128-steps.wav", x, N, 22050);
	if (CHECK(p) && CHECK_MSG(analyze_file(p, &opts, v, &dur, err,
					       sizeof err), "%s", err) &&
	    CHECK(ffmpeg_r128(p, &li, &lra))) {
		CHECK_NEAR(v[FEAT_LOUDNESS_RANGE], 10, 1);
		CHECK_NEAR(v[FEAT_LOUDNESS_RANGE], lra, 0.5);
		CHECK_NEAR(v[FEAT_LOUDNESS], li, 0.3);
	}
	free(p);
	/* The gating itself: blocks under -70 LUFS and 10 LU under the
	 * mean do not count; a track shorter than a block has no loudness. */
	float z[100];
	for (int i = 0; i < 100; i++)
		z[i] = i < 50 ? 0.01f : 1e-9f;	/* -20.7 LUFS, then silence */
	/* 47 blocks of 0.01, three across the edge (3/4, 1/2, 1/4 of it),
	 * the silent ones gated out. */
	double mean = (47 * 0.01 + 0.0075 + 0.005 + 0.0025) / 50;
	CHECK_NEAR(loudness_integrated(z, 100), -0.691 + 10 * log10(mean),
		   0.01);
	CHECK_NEAR(loudness_integrated(z, 3), -70, 0);
	CHECK_NEAR(loudness_range(z, 50), 0, 0.01);
	/* Half the blocks 10 dB quieter (still above the -20 LU gate):
	 * the range is the 10 dB. */
	for (int i = 0; i < 100; i++)
		z[i] = i < 50 ? 0.01f : 0.001f;
	CHECK_NEAR(loudness_range(z, 100), 10, 0.01);
}

static void test_mod4hz(void)
{
	enum { N = 10 * RATE };
	static float x[N];
	float am[FEAT_COUNT], steady[FEAT_COUNT], am9[FEAT_COUNT];
	fixture_am_noise(x, N, RATE, 4, 0.5, 2);
	if (!analyse("am4.wav", x, N, am))
		return;
	fixture_am_noise(x, N, RATE, 9, 0.5, 2);
	if (!analyse("am9.wav", x, N, am9))
		return;
	fixture_noise(x, N, 0.25, 3);
	if (!analyse("steady.wav", x, N, steady))
		return;
	CHECK_MSG(am[FEAT_MOD4HZ] > 0.6, "4 Hz AM: %g", am[FEAT_MOD4HZ]);
	CHECK_MSG(steady[FEAT_MOD4HZ] < 0.2, "steady: %g",
		  steady[FEAT_MOD4HZ]);
	CHECK_MSG(am9[FEAT_MOD4HZ] < 0.2, "9 Hz AM: %g", am9[FEAT_MOD4HZ]);
	CHECK(am[FEAT_RMS_STD] > 3 * steady[FEAT_RMS_STD]);
}

static void test_danceability_order(void)
{
	enum { N = 30 * RATE };
	static float x[N];
	float beat[FEAT_COUNT], rnd[FEAT_COUNT];
	fixture_clicks(x, N, RATE, 120, 0.8);
	if (!analyse("steady-beat.wav", x, N, beat))
		return;
	fixture_random_clicks(x, N, RATE, 120, 0.8, 5);
	if (!analyse("random-clicks.wav", x, N, rnd))
		return;
	CHECK_MSG(beat[FEAT_DANCEABILITY] > rnd[FEAT_DANCEABILITY] + 0.3,
		  "steady %g, random %g", beat[FEAT_DANCEABILITY],
		  rnd[FEAT_DANCEABILITY]);
	CHECK_MSG(beat[FEAT_BEAT_STRENGTH] > rnd[FEAT_BEAT_STRENGTH] + 0.2,
		  "steady %g, random %g", beat[FEAT_BEAT_STRENGTH],
		  rnd[FEAT_BEAT_STRENGTH]);
}

/* The pure helpers on series with known structure. */
static void test_rhythm_helpers(void)
{
	enum { N = 2000 };
	static float x[N];
	const double fr = 43.07;
	/* White noise: DFA exponent 0.5, so danceability about 2. */
	fixture_noise(x, N, 1, 9);
	for (int i = 0; i < N; i++)
		x[i] += 2;
	double d = rhythm_dfa(x, N, 1 / fr);
	CHECK_MSG(d > 1.6 && d < 2.5, "white noise DFA %g", d);
	/* A random walk (exponent 1.5): far less danceable. */
	float w = 0;
	for (int i = 0; i < N; i++) {
		w += x[i] - 2;
		x[i] = w;
	}
	d = rhythm_dfa(x, N, 1 / fr);
	CHECK_MSG(d > 0.5 && d < 0.8, "random walk DFA %g", d);
	for (int i = 0; i < N; i++)
		x[i] = 1;
	CHECK_NEAR(rhythm_dfa(x, N, 1 / fr), 0, 1e-9);
	CHECK_NEAR(rhythm_mod4hz(x, N, fr), 0, 1e-9);
	CHECK_NEAR(rhythm_beat_strength(x, N, fr), 0, 1e-9);
	for (int i = 0; i < N; i++)
		x[i] = (float)(1 + sin(2 * M_PI * 4 * i / fr));
	CHECK(rhythm_mod4hz(x, N, fr) > 0.9);
	/* A pulse every 0.5 s (120 BPM) correlates fully with itself. */
	for (int i = 0; i < N; i++)
		x[i] = i % 43 == 0 ? 1.0f : 0.0f;
	CHECK(rhythm_beat_strength(x, N, 43.0) > 0.9);
	CHECK_NEAR(rhythm_dfa(x, 3, 1 / fr), 0, 1e-9);
}

static void check_finite(const char *name, const float *x, size_t n)
{
	float v[FEAT_COUNT];
	char err[256] = "";
	double dur;
	char *p = fixture_wav(dir, name, x, n, RATE);
	if (!CHECK(p))
		return;
	bool ok = analyze_file(p, &opts, v, &dur, err, sizeof err);
	CHECK_MSG(ok, "%s: %s", name, err);
	for (int i = 0; ok && i < FEAT_COUNT; i++)
		CHECK_MSG(isfinite(v[i]), "%s: %s = %g", name,
			  features_info(i)->name, v[i]);
	free(p);
}

static void test_degenerate_input_is_finite(void)
{
	enum { N = 3 * RATE };
	static float x[N];
	memset(x, 0, sizeof x);
	check_finite("silence.wav", x, N);
	float v[FEAT_COUNT];
	if (analyse("silence2.wav", x, N, v)) {
		CHECK_NEAR(v[FEAT_LOUDNESS], -70, 1e-3);
		CHECK_NEAR(v[FEAT_TEMPO], 0, 1e-9);
		for (int i = 0; i < 12; i++)
			CHECK_NEAR(v[FEAT_CHROMA + i], 0, 0);
	}
	for (size_t i = 0; i < N; i++)
		x[i] = 0.7f;
	check_finite("dc.wav", x, N);
	/* Hard clipping: a square wave at full scale. */
	for (size_t i = 0; i < N; i++)
		x[i] = (i / 50) % 2 ? 1.0f : -1.0f;
	check_finite("clipped.wav", x, N);
	x[0] = 0.5f;
	check_finite("one.wav", x, 1);
	fixture_sine(x, N, RATE, 440, 0.5);
	check_finite("short.wav", x, RATE / 10);
	/* Float PCM with NaN and infinities in it. */
	fixture_sine(x, N, RATE, 440, 0.5);
	for (size_t i = 0; i < N; i += 777) {
		x[i] = NAN;
		x[i + 1] = INFINITY;
	}
	char fp[4096];
	snprintf(fp, sizeof fp, "%s/nan.wav", dir);
	if (CHECK(fixture_float_wav(fp, x, N, RATE))) {
		char err[256];
		double dur;
		CHECK_MSG(analyze_file(fp, &opts, v, &dur, err, sizeof err),
			  "%s", err);
		for (int i = 0; i < FEAT_COUNT; i++)
			CHECK_MSG(isfinite(v[i]), "nan.wav: %s = %g",
				  features_info(i)->name, v[i]);
		/* The sine still reads as itself. */
		CHECK_NEAR(v[FEAT_ZCR], 880, 30);
	}
	/* A single click in silence. */
	memset(x, 0, sizeof x);
	x[N / 2] = 1;
	check_finite("click.wav", x, N);
}

static void test_failures_have_reasons(void)
{
	float v[FEAT_COUNT];
	double dur = 5;
	char err[256] = "";
	char p[4096];
	snprintf(p, sizeof p, "%s/garbage.flac", dir);
	CHECK(fixture_random_file(p, 10000, 3));
	v[0] = 7;
	CHECK(!analyze_file(p, &opts, v, &dur, err, sizeof err));
	CHECK(err[0] != '\0');
	CHECK_NEAR(v[0], 0, 0);
	CHECK_NEAR(dur, 0, 0);
	err[0] = '\0';
	CHECK(!analyze_file(dir, &opts, v, &dur, err, sizeof err));
	CHECK(strstr(err, "not a regular file") != NULL);
}

/* The same music in every format gives nearly the same vector. */
static void test_formats_agree(void)
{
	enum { N = 12 * RATE };
	static float x[N], y[N];
	fixture_clicks(x, N, RATE, 128, 0.5);
	double hz[3] = { fixture_note(62), fixture_note(66), fixture_note(69) };
	fixture_chord(y, N, RATE, hz, 3, 0.3);
	for (size_t i = 0; i < N; i++)
		x[i] += y[i] *
			(float)(0.6 + 0.4 * sin(2 * M_PI * 0.5 * i / RATE));
	fixture_noise(y, N, 0.02, 11);
	for (size_t i = 0; i < N; i++)
		x[i] += y[i];
	char *wav = fixture_wav(dir, "mix.wav", x, N, RATE);
	if (!CHECK(wav))
		return;
	float ref[FEAT_COUNT], v[FEAT_COUNT];
	char err[256];
	double dur;
	if (!CHECK_MSG(analyze_file(wav, &opts, ref, &dur, err, sizeof err),
		       "%s", err))
		return;
	const char *exts[] = { "flac", "ogg", "mp3", "opus" };
	for (int e = 0; e < 4; e++) {
		char *p = fixture_encode(wav, exts[e]);
		if (!CHECK(p))
			continue;
		if (!CHECK_MSG(analyze_file(p, &opts, v, &dur, err, sizeof err),
			       "%s", err)) {
			free(p);
			continue;
		}
		bool lossless = e == 0;
		for (int i = 0; i < FEAT_COUNT; i++) {
			double a = ref[i], b = v[i];
			/* Relative for large values, absolute near zero:
			 * chroma shares, flatness, MFCC of a few units. */
			double tol = lossless ? 1e-3 + 1e-3 * fabs(a)
					      : 0.05 + 0.05 * fabs(a);
			if (i == FEAT_DURATION)
				tol = 0.1;
			CHECK_MSG(fabs(a - b) <= tol, "%s: %s %g vs wav %g",
				  exts[e], features_info(i)->name, b, a);
		}
		free(p);
	}
	free(wav);
}

struct job {
	const char *path;
	float v[FEAT_COUNT];
	bool ok;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	char err[256];
	double dur;
	struct analyze *a = analyze_new(err, sizeof err);
	j->ok = a && analyze_run(a, j->path, &opts, j->v, &dur, err,
				 sizeof err);
	analyze_free(a);
	return NULL;
}

/* No global state: two threads give what one gives. */
static void test_threads_agree(void)
{
	enum { N = 6 * RATE };
	static float x[N];
	fixture_clicks(x, N, RATE, 100, 0.7);
	char *a = fixture_wav(dir, "thread-a.wav", x, N, RATE);
	fixture_am_noise(x, N, RATE, 4, 0.5, 4);
	char *b = fixture_wav(dir, "thread-b.wav", x, N, RATE);
	if (!CHECK(a && b))
		return;
	struct job seq[2] = { { .path = a }, { .path = b } };
	struct job par[2] = { { .path = a }, { .path = b } };
	worker(&seq[0]);
	worker(&seq[1]);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&t[i], NULL, worker, &par[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		CHECK(seq[i].ok && par[i].ok);
		CHECK(memcmp(seq[i].v, par[i].v, sizeof seq[i].v) == 0);
	}
	free(a);
	free(b);
}

int main(void)
{
	dir = harness_tmpdir();
	RUN(test_table);
	RUN(test_tempo_of_clicks);
	RUN(test_loudness_of_sine);
	RUN(test_key_of_triads);
	RUN(test_key_profiles);
	RUN(test_flatness_noise_vs_tone);
	RUN(test_bass);
	RUN(test_loudness_against_ffmpeg);
	RUN(test_mod4hz);
	RUN(test_danceability_order);
	RUN(test_rhythm_helpers);
	RUN(test_degenerate_input_is_finite);
	RUN(test_failures_have_reasons);
	RUN(test_formats_agree);
	RUN(test_threads_agree);
	return harness_finish();
}
