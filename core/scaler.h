/* Robust min-max scaling: per feature, the 1st and 99th percentiles of a
 * fitted matrix map to 0 and 1 and everything is clipped to [0, 1], so one
 * outlier (a three-hour mix, a silent track) does not squash the rest.
 * Features that are skewed and non-negative (most values packed near the
 * bottom of the range, as with speechiness or instrumentalness) are first
 * spread out by a log transform, log(x + s), chosen at fit time.
 */
#ifndef MPDREC_SCALER_H
#define MPDREC_SCALER_H

#include <stdbool.h>
#include <stddef.h>

struct scaler;

/** An identity scaler for n features (x kept, clipped to [0, 1]), or NULL
 *  when out of memory. Caller frees with scaler_free(). */
struct scaler *scaler_new(int n);

/** Frees a scaler; accepts NULL. */
void scaler_free(struct scaler *s);

/** A copy, or NULL when out of memory. Caller frees with scaler_free(). */
struct scaler *scaler_clone(const struct scaler *s);

/** Number of features. */
int scaler_features(const struct scaler *s);

/** Fits on x (rows, n). With log_skewed, skewed non-negative features get
 *  a log transform. Returns false (err filled, scaler unchanged) when
 *  rows < 1 or a value is not finite. */
bool scaler_fit(struct scaler *s, const float *x, int rows, bool log_skewed,
		char *err, size_t err_size);

/** out (rows, n) = scaled x (rows, n); out may equal x. A non-finite value
 *  becomes the fitted median. */
void scaler_apply(const struct scaler *s, const float *x, int rows,
		  float *out);

/** The scaled median of feature j (0.5 for an unfitted scaler). */
float scaler_median(const struct scaler *s, int j);

/** Whether feature j goes through a log transform. */
bool scaler_is_log(const struct scaler *s, int j);

/** Bytes scaler_write() writes. */
size_t scaler_serial_size(const struct scaler *s);

/** Writes the scaler into buf (scaler_serial_size() bytes). */
void scaler_write(const struct scaler *s, void *buf);

/** Reads a scaler of n features from buf (size bytes); NULL with err
 *  filled when size is wrong or a value is impossible. Caller frees. */
struct scaler *scaler_read(const void *buf, size_t size, int n, char *err,
			   size_t err_size);

#endif
