/* Spectral shape: one FFT per frame (1024 samples, Hann, hop 512 at
 * DECODE_RATE) whose power and magnitude spectra every other descriptor
 * shares (rhythm's onset function, loudness's K-weighting, tonal's pitch).
 * Accumulates flatness, roll-off, centroid, bass share and flux (every 4th
 * frame) and MFCC (every 8th: aubio's Slaney mel bands, applied sparsely,
 * and the first 13 rows of an orthonormal DCT) over the sounding frames.
 */
#ifndef MPDREC_SPECTRAL_H
#define MPDREC_SPECTRAL_H

#include <stdint.h>
#include <string.h>

/** Window and hop of the analysis frames, in samples. */
#define SPECTRAL_WIN 1024
#define SPECTRAL_HOP 512
#define SPECTRAL_BINS (SPECTRAL_WIN / 2 + 1)

/** One frame's spectrum, arrays of SPECTRAL_BINS (borrowed; valid until the
 *  next spectral_do()). */
struct spectrum {
	const float *power;	/* |X(k)|² of the Hann-windowed frame */
	const float *mag;	/* |X(k)| */
	double mean_square;	/* of the frame's samples (Parseval, window
				 * corrected) */
};

struct spectral;

/** Allocates everything for frames at `rate` Hz (FFT, window, mel bands).
 *  Returns NULL when out of memory. Free with spectral_free(). */
struct spectral *spectral_new(int rate);

/** Clears the accumulated statistics for a new track. */
void spectral_reset(struct spectral *s);

/** Analyses one frame: `frame` holds the last SPECTRAL_WIN samples, index
 *  counts frames from 0. Returns its spectrum. Never allocates. */
const struct spectrum *spectral_do(struct spectral *s, const float *frame,
				   long index);

/** Writes the spectral entries of the vector (see table.h) into v. */
void spectral_result(const struct spectral *s, float *v);

/** Frees s. Accepts NULL and a half-built object. */
void spectral_free(struct spectral *s);

/* Loops that compile to vector code at -O2 (fixed-count inner loops over
 * eight lanes), shared by the descriptors. */

/** The sum of x (n). */
float spectral_sum(const float *x, int n);

/** The dot product of x and y (n). */
float spectral_dot(const float *x, const float *y, int n);

/** log2(x) to about 0.01 for x > 0: the flatness of 513 bins needs 513
 *  logarithms per frame, and a percent of error in a geometric mean (or in
 *  a parabola through log spectra) is harmless. */
static inline float spectral_log2(float x)
{
	uint32_t i;
	memcpy(&i, &x, sizeof i);
	float e = (float)((int)((i >> 23) & 255) - 128);
	i = (i & 0x007fffff) | 0x3f800000;
	float m;
	memcpy(&m, &i, sizeof m);
	return e + (-0.34484843f * m + 2.02466578f) * m - 0.67487759f;
}

#endif
