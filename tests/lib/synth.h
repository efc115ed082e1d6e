/* A synthetic table shaped like the public Spotify like/dislike table of
 * "Music Recommendation on Spotify using Deep Learning" (about 2,000
 * tracks, 13 audio attributes with mixed scales, a 0/1 target), for the
 * model's tests and benchmarks. One generator, so the test and the bench
 * measure the same thing.
 *
 * Attributes, in the table's column order: acousticness (skewed 0–1),
 * danceability, duration_ms (log-normal, hundreds of thousands, a long
 * tail), energy, instrumentalness (mostly ~1e-5, a third spread to 1), key
 * (integer 0–11), liveness (skewed), loudness (dB, −60..0), mode (0/1),
 * speechiness (skewed), tempo (BPM), time_signature (mostly 4), valence.
 *
 * The label is drawn from a known probability: a nonlinear function of
 * danceability, speechiness, instrumentalness (a step), duration (a bump),
 * loudness, tempo (a bump) and a valence × energy interaction; key, mode,
 * time_signature, liveness and acousticness carry no signal. Its noise
 * was set once, before tuning the net, so that a 500-tree random forest
 * lands near the 78% reported on the real table (the Bayes rate is then
 * about 82%).
 */
#ifndef MPDREC_SYNTH_H
#define MPDREC_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#define SYNTH_FEATURES 13

/** Column names in the table's order (borrowed, static). */
extern const char *const synth_names[SYNTH_FEATURES];

/** Generates n rows from seed: x (n, SYNTH_FEATURES) raw attributes,
 *  y (n) 0/1 labels, p (n) the true probability of 1 (p may be NULL).
 *  Arrays are the caller's. */
void synth_spotify(int n, uint64_t seed, float *x, float *y, double *p);

/** The Bayes accuracy of a table: mean of max(p, 1 − p). */
double synth_bayes_accuracy(const double *p, int n);

/** Writes a table as the real one is laid out: an unnamed leading index
 *  column, the 13 attributes, "target", then song_title and artist (text
 *  with commas, doubled quotes and UTF-8, RFC 4180 quoted). crlf picks
 *  the line ends. Returns false (errno set) when it cannot write. */
bool synth_write_csv(const char *path, int n, const float *x,
		     const float *y, bool crlf);

#endif
