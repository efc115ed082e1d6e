/* Level: EBU R128 integrated loudness (BS.1770-4) and loudness range (EBU
 * Tech 3342), the RMS level of each frame, its mean and spread, and the
 * zero-crossing rate.
 *
 * The K-weighting (libebur128's filters, for the analysis rate) is applied
 * to the power spectra the frames already have: by Parseval's theorem a
 * frame's K-weighted mean square is its power spectrum weighted by the
 * filters' squared response. Frames are pooled into the 100 ms steps of
 * BS.1770's gating blocks (400 ms, every 100 ms) and of the 3 s short-term
 * blocks of the loudness range. Memory: one float per 100 ms analysed.
 */
#ifndef MPDREC_LOUDNESS_H
#define MPDREC_LOUDNESS_H

#include <stdbool.h>
#include <stddef.h>

struct loudness;

/** Allocates a meter for frames of `win` samples every `hop` at `rate` Hz
 *  (power spectra of win / 2 + 1 bins, Hann window). Returns NULL when out
 *  of memory. Free with loudness_free(). */
struct loudness *loudness_new(int rate, int win, int hop);

/** Starts a new track. */
void loudness_reset(struct loudness *l);

/** Feeds one frame: its power spectrum, the mean square of its samples,
 *  and the n samples of its newest hop that are audio (the rest is padding
 *  at the end of the track). Returns the frame's RMS (linear), or a
 *  negative value when out of memory. */
float loudness_frame(struct loudness *l, const float *power,
		     double mean_square, const float *hop, size_t n);

/** Writes the level entries of the vector into v. */
void loudness_result(struct loudness *l, float *v);

/** Frees l. Accepts NULL. */
void loudness_free(struct loudness *l);

/* For the tests. */

/** Integrated loudness (LUFS) of a series of 100 ms K-weighted mean
 *  squares z (n): 400 ms blocks every step, absolute gate -70 LUFS,
 *  relative gate -10 LU. -70 when no block passes. */
double loudness_integrated(const float *z, size_t n);

/** Loudness range (LU) of the same series: 3 s blocks every step, gates
 *  -70 LUFS and -20 LU, the 10th to the 95th percentile. */
double loudness_range(const float *z, size_t n);

#endif
