/* libFuzzer harness: the decoder (features/decode.h) on mutated audio files.
 *
 * Each input is written over one scratch file and decoded as analysis would,
 * with max_seconds = 31 (so a file that claims to be longer than 32 s is cut
 * into two excerpts found by seeking) and a 2 s wall-clock bound. Whatever
 * the bytes, decoding must not crash or hang; a refusal or a failed read
 * must say why; reads must stay within the buffer, the excerpt plan and
 * max_seconds.
 *
 * The seeds are tiny WAV, FLAC, Ogg Vorbis, MP3, Opus and AAC files that
 * run.sh makes with ffmpeg. FUZZ_VERBOSE=1 prints what became of each
 * input (to check that the seeds decode). Non-finite samples are counted
 * there but not refused: decode.h does not promise finite samples (float
 * PCM passes through), the analysis has to cope.
 */
#define FUZZ_SCRATCH
#include "features/decode.h"
#include "tests/fuzz/fuzz_common.h"

#include <math.h>

#define MAX_SECONDS 31.0
#define TIMEOUT_S 2.0

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* No extension: FFmpeg must tell the format from the bytes. */
	const char *path = fuzz_scratch_write("input", data, size);
	const struct decode_opts o = { .max_seconds = MAX_SECONDS,
				       .timeout_s = TIMEOUT_S };
	char err[256];
	err[0] = '\0';
	struct decode *d = decode_open(path, &o, err, sizeof err);
	bool verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (!d) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		if (verbose)
			fprintf(stderr, "decode: %zu bytes refused: %s\n",
				size, err);
		return 0;
	}
	int excerpts = decode_excerpts(d);
	double duration = decode_duration(d);
	FUZZ_CHECK(excerpts >= 1, "%d excerpts", excerpts);
	FUZZ_CHECK(isfinite(duration) && duration >= 0, "duration %g",
		   duration);

	/* A small buffer, so reads split frames and excerpt ends. */
	enum { CHUNK = 1000 };
	float *buf = malloc(CHUNK * sizeof *buf);
	FUZZ_CHECK(buf != NULL, "out of memory");
	long long total = 0, nonfinite = 0;
	int last_excerpt = 0;
	long n;
	while ((n = decode_read(d, buf, CHUNK)) > 0) {
		FUZZ_CHECK(n <= CHUNK, "read %ld samples into %d", n, CHUNK);
		total += n;
		for (long i = 0; i < n; i++)
			nonfinite += !isfinite(buf[i]);
		int e = decode_excerpt(d);
		FUZZ_CHECK(e >= last_excerpt && e < excerpts,
			   "excerpt %d after %d (of %d)", e, last_excerpt,
			   excerpts);
		last_excerpt = e;
	}
	FUZZ_CHECK(n == 0 || n == -1, "decode_read returned %ld", n);
	if (n < 0) {
		const char *why = decode_error(d);
		FUZZ_CHECK(why != NULL && *why, "read failed without a reason");
		if (verbose)
			fprintf(stderr, "decode: read failed: %s\n", why);
	}
	/* Once done, the decoder stays done. */
	long again = decode_read(d, buf, CHUNK);
	FUZZ_CHECK(again == n, "read returned %ld after %ld", again, n);
	FUZZ_CHECK(decode_delivered(d) == total, "delivered %lld, read %lld",
		   decode_delivered(d), total);
	FUZZ_CHECK(total <= (long long)(MAX_SECONDS * DECODE_RATE),
		   "%lld samples delivered, max_seconds allows %lld", total,
		   (long long)(MAX_SECONDS * DECODE_RATE));
	if (verbose)
		fprintf(stderr, "decode: %zu bytes: %.3f s of %.3f s, %d "
			"excerpt(s), %lld non-finite samples\n", size,
			(double)total / DECODE_RATE, duration, excerpts,
			nonfinite);
	free(buf);
	decode_close(d);
	return 0;
}
