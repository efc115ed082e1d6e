/* Tonality: chroma from spectral peaks of a long frame (4096 samples, every
 * 32nd analysis frame), rotated to the key that correlates best with the
 * Krumhansl-Kessler profiles, and the share of voiced frames (aubio's
 * yinfft pitch method on the analysis frame's power spectrum, every 16th
 * frame).
 */
#ifndef MPDREC_TONAL_H
#define MPDREC_TONAL_H

#include <stdbool.h>

/** Samples of history tonal_do() needs. */
#define TONAL_WIN 4096

struct tonal;

/** Allocates a tonal analyser for `rate` Hz whose analysis frames are `win`
 *  samples long (a power of two). Returns NULL when out of memory. Free
 *  with tonal_free(). */
struct tonal *tonal_new(int rate, int win);

/** Clears the statistics for a new track. */
void tonal_reset(struct tonal *t);

/** Feeds analysis frame `index`: hist holds the last TONAL_WIN samples (the
 *  frame is its tail), power is the frame's power spectrum (win / 2 + 1
 *  bins, Hann window), rms its level. Never allocates. */
void tonal_do(struct tonal *t, const float *hist, const float *power,
	      long index, float rms);

/** Writes the tonal entries of the vector into v. */
void tonal_result(const struct tonal *t, float *v);

/** Frees t. Accepts NULL and a half-built object. */
void tonal_free(struct tonal *t);

/** The key of a 12-bin chroma (C first): *tonic 0..11, *major, and the
 *  Pearson correlation with that key's profile. Returns false when the
 *  chroma is flat or empty (no key). */
bool tonal_key(const double chroma[12], int *tonic, bool *major,
	       double *strength);

/** aubio's yinfft on a power spectrum (win / 2 + 1 bins of a Hann-windowed
 *  frame of win samples at rate Hz): the fundamental in Hz when the best
 *  period's normalised difference is below tolerance, else 0. */
double tonal_pitch(struct tonal *t, const float *power, double tolerance);

#endif
