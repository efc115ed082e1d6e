/* A tiny test harness: one binary per module, each test a function.
 *
 *	static void test_round_trip(void) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); }
 *	int main(void) { RUN(test_round_trip); return harness_finish(); }
 *
 * A test passes when none of its checks failed. harness_finish() prints
 * "N passed, N failed" and returns the exit status (0 only if none failed).
 */
#ifndef MPDREC_HARNESS_H
#define MPDREC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

/** Records one check; prints file:line and the message when it failed.
 *  Returns ok, so a test can stop early: if (!CHECK(p)) return; */
bool harness_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/** Runs one test function and counts it as passed or failed. */
void harness_run(const char *name, void (*fn)(void));

/** Prints "N passed, N failed"; returns the process exit status. */
int harness_finish(void);

/** A fresh directory under $TMPDIR named after the test binary; removed
 *  with everything in it at exit. Returns a borrowed path, valid until exit. */
const char *harness_tmpdir(void);

/** Writes a mono or multi-channel 16-bit PCM WAV file from interleaved float
 *  samples in [-1, 1]. Returns false (errno set) when it cannot write. */
bool harness_write_wav(const char *path, const float *samples, size_t frames,
		       int channels, int rate);

/** Writes mono samples as a 32-bit float WAV of `channels` equal
 *  channels, as they are (no clipping: values past ±1, NaN and infinity
 *  stay). Returns false (errno set) when it cannot write. */
bool harness_write_float_wav(const char *path, const float *mono,
			     size_t frames, int channels, int rate);

/** Writes a track for a test MPD to play: mono samples in [-1, 1] as
 *  32-bit float stereo. MPD 0.23 answers no command while it plays a song
 *  whose decoded PCM is under about 300 kB (a 3 s, 22,050 Hz mono track
 *  blocks a `next` until the song ends); float stereo at 44,100 Hz is
 *  352 kB a second, so tracks of 1 s or more are safe. Returns false
 *  (errno set) when it cannot write. */
bool harness_write_track(const char *path, const float *mono, size_t frames,
			 int rate);

/** Runs a shell command, output to /dev/null unless verbose; returns its
 *  exit status (or -1). */
int harness_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define RUN(fn) harness_run(#fn, fn)
#define CHECK(cond) harness_check((cond), __FILE__, __LINE__, "%s", #cond)
#define CHECK_MSG(cond, ...) harness_check((cond), __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_INT(a, b)                                                       \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		harness_check(a_ == b_, __FILE__, __LINE__,                   \
			      "%s == %s (%lld != %lld)", #a, #b, a_, b_);     \
	} while (0)
#define CHECK_NEAR(a, b, tol)                                                 \
	do {                                                                  \
		double a_ = (double)(a), b_ = (double)(b);                    \
		harness_check(a_ - b_ <= (tol) && b_ - a_ <= (tol),           \
			      __FILE__, __LINE__, "%s ~ %s (%g vs %g, tol %g)", \
			      #a, #b, a_, b_, (double)(tol));                 \
	} while (0)
#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		harness_check(a_ && b_ && strcmp(a_, b_) == 0, __FILE__,      \
			      __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b, \
			      a_ ? a_ : "(null)", b_ ? b_ : "(null)");        \
	} while (0)

#endif
