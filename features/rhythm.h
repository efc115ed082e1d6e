/* Rhythm: tempo and its confidence (aubio's beat tracker on the spectral
 * flux of the shared spectrum), onsets (aubio's peak picker), beat strength
 * (autocorrelation of the onset envelope), danceability (detrended
 * fluctuation analysis of the frame RMS, after Streich & Herrera 2005 as in
 * Essentia) and the 4 Hz modulation of the envelope (speech).
 */
#ifndef MPDREC_RHYTHM_H
#define MPDREC_RHYTHM_H

#include <stdbool.h>

struct rhythm;

/** Allocates a rhythm analyser for magnitude spectra of `bins` bins every
 *  `hop` samples at `rate` Hz. Returns NULL when out of memory. Free with
 *  rhythm_free(). */
struct rhythm *rhythm_new(int bins, int hop, int rate);

/** Forgets the previous track (aubio's tracker, onset state, series).
 *  Returns false when out of memory. */
bool rhythm_reset(struct rhythm *r);

/** Feeds one frame: its magnitude spectrum, its RMS, and the excerpt it
 *  belongs to (beat periods never span two excerpts). Returns false when
 *  out of memory. */
bool rhythm_do(struct rhythm *r, const float *mag, float rms, int excerpt);

/** Writes the rhythm entries of the vector into v. */
void rhythm_result(struct rhythm *r, float *v);

/** Frees r. Accepts NULL and a half-built object. */
void rhythm_free(struct rhythm *r);

/* Pure helpers, exposed for the tests. */

/** DFA danceability of a series of frame RMS values `x` (n values, one per
 *  `frame_s` seconds): 1 / mean DFA exponent over segment lengths of
 *  0.31-8.8 s, clamped to 0..10. 0 when the series is too short or flat. */
double rhythm_dfa(const float *x, int n, double frame_s);

/** Share (0..1) of the modulation power of envelope x (n values at
 *  `frame_rate` Hz) that lies between 3 and 5 Hz. */
double rhythm_mod4hz(const float *x, int n, double frame_rate);

/** Highest normalised autocorrelation (0..1) of onset envelope x at lags
 *  of 40-240 BPM. */
double rhythm_beat_strength(const float *x, int n, double frame_rate);

#endif
