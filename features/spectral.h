/* Spectral shape: one FFT per frame (1024 samples, Hann, hop 512 at
 * DECODE_RATE) whose magnitude spectrum every spectral descriptor shares,
 * rhythm's onset function included. Accumulates flatness, roll-off,
 * centroid and flux (every 2nd frame) and aubio's MFCC (every 8th frame: its
 * dense mel filter bank is the costliest step) over the sounding frames.
 */
#ifndef MPDREC_SPECTRAL_H
#define MPDREC_SPECTRAL_H

#include <stdbool.h>

#include <aubio/aubio.h>

/** Window and hop of the analysis frames, in samples. */
#define SPECTRAL_WIN 1024
#define SPECTRAL_HOP 512

struct spectral;

/** Allocates everything for frames at `rate` Hz (FFT plan, window, mel
 *  filter bank). Returns NULL when aubio cannot. Free with spectral_free(). */
struct spectral *spectral_new(int rate);

/** Clears the accumulated statistics for a new track. */
void spectral_reset(struct spectral *s);

/** Analyses one frame: `frame` holds the last SPECTRAL_WIN samples, index
 *  counts frames from 0. Returns the magnitude spectrum (borrowed; valid
 *  until the next call). Never allocates. */
const cvec_t *spectral_do(struct spectral *s, const float *frame, long index);

/** Writes the spectral entries of the vector (see table.h) into v. */
void spectral_result(const struct spectral *s, float *v);

/** Frees s. Accepts NULL and a half-built object. */
void spectral_free(struct spectral *s);

#endif
