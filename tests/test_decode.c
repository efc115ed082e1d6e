/* features/decode: every format MPD's FFmpeg plugin plays is decoded to mono
 * float at DECODE_RATE, odd streams included; long files are cut into
 * evenly spaced excerpts by seeking; hostile files fail with a reason and
 * never hang. Fixtures are made with the ffmpeg program. */
#include "features/decode.h"
#include "features/resample.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/fixture.h"
#include "tests/lib/harness.h"

/* Under AddressSanitizer (make asan) memory is shadowed and freed blocks
 * wait in quarantine: peak RSS says little about the code, so the bound is
 * looser there (the unbounded parser took 1.09 GB for the file alone). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define PEAK_RSS_BOUND_MB 800.0
#else
#define PEAK_RSS_BOUND_MB 200.0
#endif

static const char *dir;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What a decode delivered: length, level, and the rate of zero crossings
 * per excerpt (a sine of f Hz crosses 2f times a second). */
struct result {
	bool ok;
	char err[256];
	long long samples;
	double rms;
	double duration;
	int excerpts;
	double zc_rate[8];
	long long ex_samples[8];
};

static struct result run(const char *path, double max_seconds, double timeout)
{
	struct result r = { 0 };
	struct decode_opts o = { .max_seconds = max_seconds,
				 .timeout_s = timeout };
	struct decode *d = decode_open(path, &o, r.err, sizeof r.err);
	if (!d)
		return r;
	float buf[3000];
	long n;
	double ss = 0;
	long zc[8] = { 0 };
	float prev = 0;
	int last = -1;
	while ((n = decode_read(d, buf, sizeof buf / sizeof *buf)) > 0) {
		int e = decode_excerpt(d);
		if (e < 0 || e >= 8)
			break;
		if (e != last)
			prev = buf[0];
		last = e;
		for (long i = 0; i < n; i++) {
			ss += (double)buf[i] * buf[i];
			zc[e] += (buf[i] < 0) != (prev < 0);
			prev = buf[i];
		}
		r.ex_samples[e] += n;
	}
	r.ok = n == 0;
	if (!r.ok)
		snprintf(r.err, sizeof r.err, "%s", decode_error(d));
	r.samples = decode_delivered(d);
	r.rms = r.samples ? sqrt(ss / (double)r.samples) : 0;
	r.duration = decode_duration(d);
	r.excerpts = decode_excerpts(d);
	for (int e = 0; e < 8; e++)
		r.zc_rate[e] = r.ex_samples[e]
				       ? zc[e] * (double)DECODE_RATE /
						 (double)r.ex_samples[e]
				       : 0;
	decode_close(d);
	return r;
}

static char *path_of(const char *name)
{
	static char buf[8][4096];
	static int i;
	char *p = buf[i++ % 8];
	snprintf(p, 4096, "%s/%s", dir, name);
	return p;
}

/* 2 s of a 1 kHz sine at 44.1 kHz in every format: the same length, the
 * same frequency and about the same level come out. */
static void test_formats(void)
{
	enum { RATE = 44100, N = 2 * RATE };
	static float x[N];
	fixture_sine(x, N, RATE, 1000, 0.5);
	char *wav = fixture_wav(dir, "sine.wav", x, N, RATE);
	if (!CHECK(wav))
		return;
	const char *exts[] = { "wav", "flac", "ogg", "opus", "mp3" };
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		char *p = i == 0 ? strdup(wav) : fixture_encode(wav, exts[i]);
		if (!CHECK_MSG(p, "ffmpeg could not make .%s", exts[i]))
			continue;
		struct result r = run(p, 0, 30);
		CHECK_MSG(r.ok, "%s: %s", exts[i], r.err);
		/* Encoders pad a little (MP3: a frame of priming). */
		CHECK_MSG(fabs((double)r.samples - 2.0 * DECODE_RATE) <
				  0.06 * DECODE_RATE,
			  "%s: %lld samples", exts[i], r.samples);
		CHECK_MSG(fabs(r.zc_rate[0] - 2000) < 40, "%s: %g crossings/s",
			  exts[i], r.zc_rate[0]);
		CHECK_MSG(fabs(r.rms - 0.5 / sqrt(2)) < 0.05, "%s: rms %g",
			  exts[i], r.rms);
		CHECK_NEAR(r.duration, 2.0, 0.06);
		free(p);
	}
	free(wav);
}

static bool make(const char *out, const char *fmt_args)
{
	return harness_system("ffmpeg -nostdin -v error -y %s '%s'", fmt_args,
			      out) == 0;
}

/* 8 channels, 192 kHz, 0.1 s: all decode to the right length and pitch. */
static void test_odd_streams(void)
{
	char *p8 = path_of("eight.flac");
	if (CHECK(make(p8, "-f lavfi -i sine=f=500:r=48000:d=1 "
			   "-af aformat=channel_layouts=7.1 -c:a flac"))) {
		struct result r = run(p8, 0, 30);
		CHECK_MSG(r.ok, "%s", r.err);
		CHECK_NEAR(r.samples, DECODE_RATE, 0.02 * DECODE_RATE);
		CHECK_NEAR(r.zc_rate[0], 1000, 20);
		CHECK(r.rms > 0.05);
	}
	char *hi = path_of("hires.flac");
	if (CHECK(make(hi, "-f lavfi -i sine=f=3000:r=192000:d=1 "
			   "-c:a flac -sample_fmt s32"))) {
		struct result r = run(hi, 0, 30);
		CHECK_MSG(r.ok, "%s", r.err);
		CHECK_NEAR(r.samples, DECODE_RATE, 0.02 * DECODE_RATE);
		CHECK_NEAR(r.zc_rate[0], 6000, 60);
	}
	/* Above the output Nyquist: the resampler must remove it. */
	char *ultra = path_of("ultra.wav");
	if (CHECK(make(ultra, "-f lavfi -i sine=f=40000:r=192000:d=0.5"))) {
		struct result r = run(ultra, 0, 30);
		CHECK_MSG(r.ok, "%s", r.err);
		CHECK_MSG(r.rms < 0.01, "rms %g", r.rms);
	}
	char *tiny = path_of("tiny.ogg");
	if (CHECK(make(tiny, "-f lavfi -i sine=f=1000:r=44100:d=0.1 "
			     "-c:a libvorbis"))) {
		struct result r = run(tiny, 0, 30);
		CHECK_MSG(r.ok, "%s", r.err);
		CHECK_NEAR(r.samples, 0.1 * DECODE_RATE, 0.03 * DECODE_RATE);
	}
}

/* Packed 16- and 32-bit stereo (WAV, FLAC) is mixed in one pass: a right
 * channel that is the left one inverted mixes to silence, a silent right
 * channel to the left one over sqrt(2). Reading either channel twice, or
 * the wrong one, breaks one of the two. */
static void test_packed_stereo(void)
{
	const char *fmts[] = { "-c:a pcm_s16le", "-c:a pcm_s32le",
			       "-c:a flac -sample_fmt s16",
			       "-c:a flac -sample_fmt s32" };
	const char *exts[] = { "wav", "wav", "flac", "flac" };
	for (int i = 0; i < 4; i++) {
		char name[32], args[256];
		double rms[2];
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof name, "packed%d%d.%s", i, k,
				 exts[i]);
			snprintf(args, sizeof args,
				 "-f lavfi -i sine=f=1000:r=44100:d=1 "
				 "-af 'volume=0.5,pan=stereo|c0=c0|c1=%s' %s",
				 k ? "0*c0" : "-1*c0", fmts[i]);
			char *p = path_of(name);
			struct result r = { 0 };
			if (CHECK_MSG(make(p, args), "%s", args))
				r = run(p, 0, 30);
			CHECK_MSG(r.ok, "%s: %s", fmts[i], r.err);
			rms[k] = r.rms;
		}
		/* lavfi's sine has an amplitude of 1/8, 1/16 after the
		 * volume: an rms of 0.0625 / sqrt(2), and mixed with
		 * silence, that over sqrt(2). */
		double one = 0.0625 / sqrt(2) / sqrt(2);
		CHECK_MSG(rms[0] < 0.001 * one, "%s: L and -L mix to rms %g",
			  fmts[i], rms[0]);
		CHECK_MSG(fabs(rms[1] - one) < 0.05 * one,
			  "%s: L and silence mix to rms %g, not %g", fmts[i],
			  rms[1], one);
	}
}

/* Float PCM may hold NaN, infinities and absurd levels: what comes out is
 * finite and bounded, and the rest of the signal is intact. */
static void test_float_garbage(void)
{
	enum { RATE = 22050, N = RATE };
	static float x[N];
	fixture_sine(x, N, RATE, 1000, 0.5);
	for (int i = 0; i < N; i += 1000) {
		x[i] = NAN;
		x[i + 1] = INFINITY;
		x[i + 2] = -INFINITY;
		x[i + 3] = 1e30f;
	}
	char *p = path_of("garbage-float.wav");
	if (!CHECK(fixture_float_wav(p, x, N, RATE)))
		return;
	struct decode_opts o = { .timeout_s = 10 };
	char err[256];
	struct decode *d = decode_open(p, &o, err, sizeof err);
	if (!CHECK_MSG(d, "%s", err))
		return;
	float buf[4096];
	long n, total = 0, bad = 0;
	while ((n = decode_read(d, buf, 4096)) > 0) {
		for (long i = 0; i < n; i++)
			bad += !(fabsf(buf[i]) <= DECODE_MAX_LEVEL);
		total += n;
	}
	CHECK_INT(n, 0);
	CHECK_INT(bad, 0);
	CHECK_NEAR(total, N, 2);
	decode_close(d);
}

/* Long files: 440 Hz in the first half, 880 Hz in the second. Only
 * max_seconds come out, as excerpts centred in equal parts of the file,
 * found by seeking: fast, and each excerpt from the right half. */
static void check_long(const char *p, double length, double max_seconds,
		       int want_excerpts)
{
	double t0 = now_s();
	struct result r = run(p, max_seconds, 60);
	double took = now_s() - t0;
	CHECK_MSG(r.ok, "%s", r.err);
	CHECK_NEAR(r.duration, length, 2);
	CHECK_INT(r.excerpts, want_excerpts);
	CHECK_NEAR((double)r.samples, max_seconds * DECODE_RATE,
		   want_excerpts + 1);
	for (int e = 0; e < want_excerpts; e++) {
		double want = e < want_excerpts / 2 ? 880 : 1760;
		CHECK_MSG(fabs(r.zc_rate[e] - want) < 0.02 * want,
			  "excerpt %d: %g crossings/s, want %g", e,
			  r.zc_rate[e], want);
		CHECK_NEAR((double)r.ex_samples[e],
			   max_seconds / want_excerpts * DECODE_RATE, 1);
	}
	/* Decoding the hour would take many seconds. */
	CHECK_MSG(took < 5, "took %.1f s", took);
}

static void test_long_file_excerpts(void)
{
	char *wav = path_of("hour.wav");
	char *mp3 = path_of("long.mp3");
#define LONG_SRC                                                              \
	"-f lavfi -i sine=f=440:r=8000:d=%d "                                 \
	"-f lavfi -i sine=f=880:r=8000:d=%d "                                 \
	"-filter_complex concat=n=2:v=0:a=1 %s"
	char args[512];
	snprintf(args, sizeof args, LONG_SRC, 1800, 1800, "-c:a pcm_u8");
	if (CHECK(make(wav, args))) {
		check_long(wav, 3600, 60, 2);
		check_long(wav, 3600, 120, 4);
		unlink(wav);
	}
	/* MP3 seeks by the bit rate / Xing table; 20 minutes suffice. */
	snprintf(args, sizeof args, LONG_SRC, 600, 600,
		 "-c:a libmp3lame -b:a 8k");
	if (CHECK(make(mp3, args)))
		check_long(mp3, 1200, 120, 4);
	/* A WAV whose header claims hours but holds 10 s (cut short): the
	 * excerpts would lie past its end, so what there is is read. */
	{
		enum { R = 8000, L = 10 * R };
		static float y[L];
		fixture_sine(y, L, R, 440, 0.5);
		char *liar = fixture_wav(dir, "liar.wav", y, L, R);
		FILE *f = liar ? fopen(liar, "r+b") : NULL;
		if (CHECK(f)) {
			const unsigned char big[4] = { 0xf0, 0xff, 0xff,
						       0x7f };
			fseek(f, 4, SEEK_SET);
			fwrite(big, 1, 4, f);
			fseek(f, 40, SEEK_SET);
			fwrite(big, 1, 4, f);
			fclose(f);
			struct result lr = run(liar, 60, 30);
			CHECK_MSG(lr.ok, "%s", lr.err);
			CHECK_NEAR(lr.samples, 10.0 * DECODE_RATE, 50);
			CHECK_NEAR(lr.zc_rate[0], 880, 10);
		}
		free(liar);
	}
	/* A short file is delivered whole, up to max_seconds. */
	enum { RATE = 22050, N = 3 * RATE };
	static float x[N];
	fixture_sine(x, N, RATE, 300, 0.3);
	char *w = fixture_wav(dir, "three.wav", x, N, RATE);
	struct result r = run(w, 60, 30);
	CHECK(r.ok);
	CHECK_INT(r.excerpts, 1);
	CHECK_NEAR(r.samples, N, 2);
	r = run(w, 1, 30);
	CHECK(r.ok);
	CHECK_NEAR(r.samples, RATE, 2);
	free(w);
}

static void check_fails(const char *path, const char *want, const char *why)
{
	double t0 = now_s();
	struct result r = run(path, 0, 10);
	CHECK_MSG(!r.ok, "%s: decoded %lld samples", why, r.samples);
	CHECK_MSG(r.err[0] != '\0', "%s: no reason", why);
	if (want)
		CHECK_MSG(strstr(r.err, want) != NULL,
			  "%s: reason \"%s\" lacks \"%s\"", why, r.err, want);
	CHECK_MSG(now_s() - t0 < 5, "%s: took too long", why);
	double s, dur;
	char err[256] = "";
	struct decode_opts o = { .timeout_s = 10 };
	CHECK_MSG(!decode_file(path, &o, true, &s, &dur, err, sizeof err) &&
			  *err,
		  "%s: decode_file", why);
}

static void test_hostile_files(void)
{
	char *empty = path_of("empty.mp3");
	FILE *f = fopen(empty, "wb");
	if (f)
		fclose(f);
	check_fails(empty, "empty", "zero bytes");
	check_fails(path_of("missing.flac"), "No such file", "missing");
	check_fails(dir, "not a regular file", "directory");
	char *fifo = path_of("fifo.ogg");
	if (CHECK(mkfifo(fifo, 0600) == 0))
		check_fails(fifo, "FIFO", "FIFO");

	const char *exts[] = { "mp3", "flac", "ogg", "opus", "wav" };
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		char name[64];
		snprintf(name, sizeof name, "random.%s", exts[i]);
		char *p = path_of(name);
		if (!CHECK(fixture_random_file(p, 50000, 7 + i)))
			continue;
		check_fails(p, NULL, name);
	}

	/* Truncated: only the first bytes of real files. */
	enum { RATE = 44100, N = RATE };
	static float x[N];
	fixture_sine(x, N, RATE, 440, 0.5);
	char *wav = fixture_wav(dir, "trunc-src.wav", x, N, RATE);
	const char *enc[] = { "flac", "ogg", "opus", "mp3" };
	for (size_t i = 0; i < sizeof enc / sizeof *enc; i++) {
		char *p = fixture_encode(wav, enc[i]);
		if (!CHECK(p))
			continue;
		char name[64];
		snprintf(name, sizeof name, "trunc-head.%s", enc[i]);
		char *t = path_of(name);
		CHECK(fixture_truncate_copy(p, t, 40));
		check_fails(t, NULL, name);
		/* Cut in the middle: what is there may decode, but it must
		 * end cleanly either way. */
		struct stat st;
		CHECK(stat(p, &st) == 0);
		snprintf(name, sizeof name, "trunc-half.%s", enc[i]);
		t = path_of(name);
		CHECK(fixture_truncate_copy(p, t, (long)st.st_size / 2));
		struct result r = run(t, 0, 10);
		CHECK_MSG(r.ok ? r.samples < N : r.err[0] != '\0', "%s", name);
		free(p);
	}
	free(wav);
}

/* A zero-filled file (preallocated, partly downloaded) of 512 MB: FFmpeg's
 * MPEG audio parser kept every byte it could not sync on (1.09 GB for
 * this one). Reading stops after a few megabytes without audio: the file
 * fails, saying why, and the process's peak memory stays low. The same
 * zeros after real audio end the audio there: what came before is
 * decoded, excerpts planned in the zeros included. */
static void test_zero_filled(void)
{
	const char *exts[] = { "mp3", "flac", "ogg", "opus" };
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		char name[32];
		snprintf(name, sizeof name, "zeros.%s", exts[i]);
		char *p = path_of(name);
		FILE *f = fopen(p, "wb");
		if (!CHECK(f))
			continue;
		fclose(f);
		if (!CHECK(truncate(p, 512L << 20) == 0))
			continue;
		double t0 = now_s();
		struct result r = run(p, 120, 60);
		CHECK_MSG(!r.ok && *r.err, "%s: decoded %lld samples", name,
			  r.samples);
		CHECK_MSG(now_s() - t0 < 10, "%s: %.1f s", name,
			  now_s() - t0);
		printf("     %s: %s\n", name, r.err);
		unlink(p);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	CHECK_MSG(ru.ru_maxrss < PEAK_RSS_BOUND_MB * 1024, "peak RSS %ld MB",
		  ru.ru_maxrss / 1024);

	/* 20 s of real audio, then zeros to 512 MB. */
	enum { RATE = 44100, N = 20 * RATE };
	static float x[N];
	fixture_sine(x, N, RATE, 440, 0.5);
	char *wav = fixture_wav(dir, "partial-src.wav", x, N, RATE);
	char *mp3 = wav ? fixture_encode(wav, "mp3") : NULL;
	if (!CHECK(mp3))
		return;
	char *p = path_of("partial.mp3");
	CHECK(rename(mp3, p) == 0);
	CHECK(truncate(p, 512L << 20) == 0);
	struct result r = run(p, 120, 60);
	CHECK_MSG(r.ok, "%s", r.err);
	CHECK_NEAR((double)r.samples / DECODE_RATE, 20, 0.5);
	getrusage(RUSAGE_SELF, &ru);
	CHECK_MSG(ru.ru_maxrss < PEAK_RSS_BOUND_MB * 1024, "peak RSS %ld MB",
		  ru.ru_maxrss / 1024);
	unlink(p);
	free(mp3);
	free(wav);
}

/* The deadline stops a decode that takes too long. */
static void test_timeout(void)
{
	char *p = path_of("slow.flac");
	if (!CHECK(make(p, "-f lavfi -i anoisesrc=r=44100:d=60 -c:a flac")))
		return;
	struct result r = run(p, 0, 0.001);
	CHECK(!r.ok);
	CHECK_MSG(strstr(r.err, "timed out") != NULL, "reason: %s", r.err);
	r = run(p, 0, 60);
	CHECK_MSG(r.ok, "%s", r.err);

	/* A cancel flag stops a decode between two reads. */
	atomic_int cancel;
	atomic_init(&cancel, 0);
	struct decode_opts o = { .timeout_s = 60, .cancel = &cancel };
	char err[256];
	struct decode *d = decode_open(p, &o, err, sizeof err);
	if (!CHECK_MSG(d, "%s", err))
		return;
	float buf[1024];
	CHECK(decode_read(d, buf, 1024) > 0);
	atomic_store(&cancel, 1);
	CHECK(decode_read(d, buf, 1024) == -1);
	CHECK_MSG(strstr(decode_error(d), "cancelled") != NULL, "%s",
		  decode_error(d));
	decode_close(d);
}

/* Runs n samples of x through a converter from `rate` in chunks of
 * `chunk` (varied by one now and then) and flushes; returns the count
 * written to y. */
static long convert_all(int rate, const float *x, long n, long chunk,
			float *y, long cap)
{
	char err[200];
	struct resample *r = resample_new(rate, DECODE_RATE, err, sizeof err);
	if (!CHECK_MSG(r, "%d Hz: %s", rate, err))
		return -1;
	long got = 0;
	for (long i = 0, k = 0; i < n; i += chunk + k % 2, k++) {
		long len = chunk + k % 2 < n - i ? chunk + k % 2 : n - i;
		if (!CHECK(resample_room(r, len) <= cap - got))
			break;
		long m = resample_do(r, x + i, len, y + got, cap - got);
		if (!CHECK(m >= 0))
			break;
		got += m;
	}
	long m = resample_flush(r, y + got, cap - got);
	CHECK(m >= 0);
	resample_free(r);
	return got + (m > 0 ? m : 0);
}

static double rms_of(const float *y, long from, long to)
{
	double ss = 0;
	for (long i = from; i < to; i++)
		ss += (double)y[i] * y[i];
	return to > from ? sqrt(ss / (double)(to - from)) : 0;
}

/* The rate reduction: half-band stages for 22,050 Hz times a power of two,
 * libswresample after a halving for the rest; a tone in the band keeps its
 * level and pitch, one above the new Nyquist frequency is gone (not folded
 * back), output i is input i * in / out (no delay), and the chunks the
 * decoder happens to give change nothing. */
static void test_resample(void)
{
	struct {
		int rate, halvings, swr;
	} cases[] = { { 22050, 0, 0 },	{ 44100, 1, 0 }, { 88200, 2, 0 },
		      { 48000, 1, 1 },	{ 96000, 2, 1 }, { 32000, 0, 1 },
		      { 11025, 0, 1 } };
	char err[200];
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct resample *r = resample_new(cases[c].rate, DECODE_RATE,
						  err, sizeof err);
		if (!CHECK_MSG(r, "%d Hz: %s", cases[c].rate, err))
			continue;
		CHECK_INT(resample_halvings(r), cases[c].halvings);
		CHECK_INT(resample_uses_swr(r), cases[c].swr);
		resample_free(r);
	}
	CHECK(!resample_new(0, DECODE_RATE, err, sizeof err) && *err);

	enum { SECONDS = 2, MAX_IN = 96000 * SECONDS };
	static float x[MAX_IN], y[DECODE_RATE * SECONDS + 4096];
	static float one[DECODE_RATE * SECONDS + 4096];
	const int rates[] = { 44100, 48000, 96000, 32000 };
	for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
		int rate = rates[k];
		long n = (long)rate * SECONDS;
		long want = (long)((double)n * DECODE_RATE / rate);
		/* 1 kHz at 0.5: level and zero crossings kept. */
		for (long i = 0; i < n; i++)
			x[i] = (float)(0.5 * sin(2 * M_PI * 1000 * i / rate));
		long got = convert_all(rate, x, n, 997, y, sizeof y / sizeof *y);
		CHECK_MSG(labs(got - want) <= 2, "%d Hz: %ld samples, want %ld",
			  rate, got, want);
		long a = DECODE_RATE / 10, b = got - DECODE_RATE / 10;
		CHECK_NEAR(rms_of(y, a, b), 0.5 / sqrt(2), 0.01);
		long zc = 0;
		for (long i = a + 1; i < b; i++)
			zc += (y[i] < 0) != (y[i - 1] < 0);
		CHECK_NEAR(zc / ((double)(b - a) / DECODE_RATE), 2000, 10);
		/* No delay: the sine's phase at output i is that of input
		 * i * rate / DECODE_RATE. */
		long i = DECODE_RATE / 2;
		double t = (double)i / DECODE_RATE;
		CHECK_MSG(fabs(y[i] - 0.5 * sin(2 * M_PI * 1000 * t)) < 0.02,
			  "%d Hz: sample %ld is %g, want %g", rate, i, y[i],
			  0.5 * sin(2 * M_PI * 1000 * t));
		/* Other chunk sizes, one sample or all at once: the same. */
		long got1 = convert_all(rate, x, n, n, one,
					sizeof one / sizeof *one);
		long same = 0;
		for (long j = 0; j < got && j < got1; j++)
			same += y[j] == one[j];
		CHECK_MSG(got1 == got && same == got,
			  "%d Hz: %ld of %ld samples alike in one chunk", rate,
			  same, got);
		/* 14 kHz, above the new Nyquist frequency (11,025 Hz): it
		 * would fold back to 8 kHz; it must be 30 dB down at least. */
		for (long j = 0; j < n; j++)
			x[j] = (float)(0.5 * sin(2 * M_PI * 14000 * j / rate));
		got = convert_all(rate, x, n, 4096, y, sizeof y / sizeof *y);
		double level = rms_of(y, a, got - DECODE_RATE / 10);
		CHECK_MSG(level < 0.5 / sqrt(2) * 0.0316,
			  "%d Hz: 14 kHz comes through at %.1f dB", rate,
			  20 * log10(level / (0.5 / sqrt(2)) + 1e-12));
	}
}

int main(void)
{
	dir = harness_tmpdir();
	RUN(test_resample);
	RUN(test_formats);
	RUN(test_odd_streams);
	RUN(test_packed_stereo);
	RUN(test_float_garbage);
	RUN(test_long_file_excerpts);
	RUN(test_hostile_files);
	RUN(test_zero_filled);
	RUN(test_timeout);
	return harness_finish();
}
