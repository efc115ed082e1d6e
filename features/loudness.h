/* Level: EBU R128 integrated loudness and loudness range (libebur128, in
 * histogram mode so memory stays constant), the RMS level of each hop, its
 * mean and spread, the low-energy share, the crest factor and the
 * zero-crossing rate.
 */
#ifndef MPDREC_LOUDNESS_H
#define MPDREC_LOUDNESS_H

#include <stdbool.h>
#include <stddef.h>

struct loudness;

/** Allocates a meter for mono audio at `rate` Hz. Returns NULL when out of
 *  memory. Free with loudness_free(). */
struct loudness *loudness_new(int rate);

/** Starts a new track. Returns false when out of memory. */
bool loudness_reset(struct loudness *l);

/** Feeds n samples to the R128 meter (any block size). Returns false on a
 *  libebur128 error. */
bool loudness_add(struct loudness *l, const float *x, size_t n);

/** Feeds one hop of n samples for the frame statistics; returns its RMS
 *  (linear). Returns a negative value when out of memory. */
float loudness_hop(struct loudness *l, const float *x, size_t n);

/** Writes the level entries of the vector into v. */
void loudness_result(struct loudness *l, float *v);

/** Frees l. Accepts NULL. */
void loudness_free(struct loudness *l);

#endif
