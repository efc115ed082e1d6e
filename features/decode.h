/* Decoding: any audio file FFmpeg reads, streamed as mono float samples at
 * one rate (libavformat + libavcodec; mono and stereo are mixed here, more
 * channels by libswresample; the rate is reduced by features/resample).
 * Memory does not grow with the length of the file, and a file that gives
 * no audio (a zero-filled .mp3) is abandoned after a few megabytes. When a
 * file is longer than max_seconds, only max_seconds are delivered, as
 * evenly spaced excerpts found by seeking.
 *
 *	struct decode *d = decode_open(path, &o, err, sizeof err);
 *	while ((n = decode_read(d, buf, len)) > 0)
 *		... decode_excerpt(d) tells which excerpt buf belongs to ...
 *	if (n < 0) ... decode_error(d) ...
 *	decode_close(d);
 *
 * Thread-safe: objects share no state. FFmpeg's own log is silenced once per
 * process (features never print); reasons come back as text instead.
 */
#ifndef MPDREC_DECODE_H
#define MPDREC_DECODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/** The rate every file is resampled to. */
#define DECODE_RATE 22050

/** Samples are clamped to +-DECODE_MAX_LEVEL (24 dB over full scale); NaN
 *  and infinities become 0: float PCM files can hold anything. */
#define DECODE_MAX_LEVEL 16.0f

/** Longest excerpt, in seconds, when a file is cut into excerpts. */
#define DECODE_EXCERPT_SECONDS 30.0

struct decode_opts {
	double max_seconds;	/* audio delivered at most; <= 0: all */
	double timeout_s;	/* wall-clock bound for open + all reads;
				 * <= 0: none */
	const atomic_int *cancel; /* may be NULL; non-zero stops the decode
				   * at once ("cancelled") */
};

struct decode;

/** Opens path for decoding. Refuses anything but a regular, non-empty
 *  file before FFmpeg sees it; only the file: protocol is allowed. Returns a
 *  decoder the caller frees with decode_close(), or NULL with the reason in
 *  err ("not a regular file", "no audio stream", FFmpeg's text...). */
struct decode *decode_open(const char *path, const struct decode_opts *o,
			   char *err, size_t err_size);

/** Reads up to n samples (mono, DECODE_RATE Hz, float) into buf. A read never
 *  spans two excerpts. Returns the count (> 0), 0 at the end, or -1 on an
 *  error or timeout (reason in decode_error(); the decoder is then done). */
long decode_read(struct decode *d, float *buf, size_t n);

/** Index of the excerpt the last decode_read() belonged to (0, 1, ...). A
 *  change means the audio is not continuous there. */
int decode_excerpt(const struct decode *d);

/** Number of excerpts planned (1 when the whole file fits). */
int decode_excerpts(const struct decode *d);

/** The file's duration in seconds from the container, 0 when unknown. */
double decode_duration(const struct decode *d);

/** Samples delivered so far by decode_read(). */
long long decode_delivered(const struct decode *d);

/** The reason of the last failure; borrowed, valid until decode_close(). */
const char *decode_error(const struct decode *d);

/** Frees the decoder. Accepts NULL. */
void decode_close(struct decode *d);

/** Decodes path as analysis would (same excerpts, same seeks) and throws
 *  the samples away: the baselines of the benchmark. With convert, the
 *  samples are mixed to mono and brought to DECODE_RATE as decode_read()
 *  delivers them; without, they stay as the decoder gives them (the file's
 *  rate and channels) and are only counted. Sets *seconds to the audio
 *  decoded and *duration to the file's duration (the decoded length when
 *  the container does not say). Returns false with the reason in err. */
bool decode_file(const char *path, const struct decode_opts *o, bool convert,
		 double *seconds, double *duration, char *err, size_t err_size);

#endif
