/* Tonality: chroma from spectral peaks of a long frame (4096 samples, every
 * 32nd analysis frame), the key and mode that correlate best with the
 * Krumhansl-Kessler profiles, and the share of voiced frames (aubio's
 * yinfft pitch, every 4th analysis frame).
 */
#ifndef MPDREC_TONAL_H
#define MPDREC_TONAL_H

#include <stdbool.h>

/** Samples of history tonal_do() needs. */
#define TONAL_WIN 4096

struct tonal;

/** Allocates a tonal analyser for `rate` Hz whose analysis frames are `win`
 *  samples long. Returns NULL when aubio cannot. Free with tonal_free(). */
struct tonal *tonal_new(int rate, int win);

/** Clears the statistics for a new track. */
void tonal_reset(struct tonal *t);

/** Feeds analysis frame `index`: hist holds the last TONAL_WIN samples (the
 *  frame is its tail), rms is the level of the newest hop. Never allocates.
 */
void tonal_do(struct tonal *t, const float *hist, long index, float rms);

/** Writes the tonal entries of the vector into v. */
void tonal_result(const struct tonal *t, float *v);

/** Frees t. Accepts NULL and a half-built object. */
void tonal_free(struct tonal *t);

/** The key of a 12-bin chroma (C first): *tonic 0..11, *major, and the
 *  Pearson correlation with that key's profile. Returns false when the
 *  chroma is flat or empty (no key). */
bool tonal_key(const double chroma[12], int *tonic, bool *major,
	       double *strength);

#endif
