/* Analysis: one file in, one feature vector out (layout in table.h). Decodes
 * with decode.h and runs every descriptor over the same frames: one FFT per
 * frame shared by the spectral, rhythm, loudness and pitch descriptors, a
 * long FFT now and then for chroma.
 *
 * Thread-safe: no global state (FFmpeg's log is silenced once per process).
 * For many files, keep one `struct analyze` per worker thread; it holds the
 * FFT plans and filter banks that would otherwise be rebuilt per file.
 */
#ifndef MPDREC_ANALYZE_H
#define MPDREC_ANALYZE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "features/table.h"

/** Longest audio analysed when max_seconds is 0 (bounds the memory). */
#define ANALYZE_MAX_SECONDS 3600.0

struct analyze_opts {
	double max_seconds;	/* audio analysed at most, as evenly spaced
				 * excerpts; <= 0: ANALYZE_MAX_SECONDS */
	double timeout_s;	/* wall-clock bound per file; <= 0: none */
	const atomic_int *cancel; /* may be NULL; when it becomes non-zero
				   * the file fails at once ("cancelled") */
};

struct analyze;

/** Allocates an analyser (FFTs, mel filter bank, K-weighting). Returns
 *  NULL with the reason in err. Free with analyze_free(). */
struct analyze *analyze_new(char *err, size_t err_size);

/** Analyses the file at path into out (features_count() floats, all finite)
 *  and *duration (seconds, from the container when it knows). Returns false
 *  with the reason in err ("not a regular file", "empty file", FFmpeg's
 *  text, "timed out after N s"...); out is then all zeros. */
bool analyze_run(struct analyze *a, const char *path,
		 const struct analyze_opts *o, float *out, double *duration,
		 char *err, size_t err_size);

/** Seconds of audio the last analyze_run() analysed (what was decoded:
 *  at most max_seconds of a long track, all of a short one). */
double analyze_seconds(const struct analyze *a);

/** Frees a. Accepts NULL. */
void analyze_free(struct analyze *a);

/** analyze_new() + analyze_run() + analyze_free(): one file, no state kept.
 */
bool analyze_file(const char *path, const struct analyze_opts *o, float *out,
		  double *duration, char *err, size_t err_size);

#endif
