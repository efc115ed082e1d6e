/* Quantile scaling: each feature is mapped through its own empirical
 * distribution to u in [0, 1] (a rank transform, interpolated between
 * SCALER_KNOTS quantiles), so skewed, heavy-tailed and outlying values all
 * come out evenly spread and one three-hour mix or silent track cannot
 * squash the rest. Ties (a feature that is often exactly 0, a 0/1 flag)
 * map to the middle of the levels they span. The quantiles are fitted on
 * at most a bounded uniform sample of rows, so fitting costs the same for
 * a library of 10,000 or 1,000,000 tracks.
 */
#ifndef MPDREC_SCALER_H
#define MPDREC_SCALER_H

#include <stdbool.h>
#include <stddef.h>

/* Quantile levels 0, 1/32, ..., 1. */
#define SCALER_KNOTS 33

/* Rows a fit reads at most (a uniform sample of the rest). The quantiles
 * of 20,000 rows are within about 0.01 of the exact ones (DKW bound). */
#define SCALER_SAMPLE_ROWS 20000

struct scaler;

/** An identity scaler for n features (x kept, clamped to [0, 1]), or NULL
 *  when out of memory. Caller frees with scaler_free(). */
struct scaler *scaler_new(int n);

/** Frees a scaler; accepts NULL. */
void scaler_free(struct scaler *s);

/** A copy, or NULL when out of memory. Caller frees with scaler_free(). */
struct scaler *scaler_clone(const struct scaler *s);

/** Number of features. */
int scaler_features(const struct scaler *s);

/** Fits on x (rows, n), reading at most max_rows of them (a uniform sample,
 *  the same for the same input; max_rows <= 0: all). Returns false (err
 *  filled, scaler unchanged) when rows < 1, a value read is not finite or
 *  memory runs out. */
bool scaler_fit(struct scaler *s, const float *x, int rows, int max_rows,
		char *err, size_t err_size);

/** out (rows, n) = scaled x (rows, n), each in [0, 1]; out may equal x. A
 *  non-finite value becomes the fitted median. */
void scaler_apply(const struct scaler *s, const float *x, int rows,
		  float *out);

/** The scaled median of feature j (0.5 for an unfitted scaler). */
float scaler_median(const struct scaler *s, int j);

/** Bytes scaler_write() writes. */
size_t scaler_serial_size(const struct scaler *s);

/** Writes the scaler into buf (scaler_serial_size() bytes). */
void scaler_write(const struct scaler *s, void *buf);

/** Bytes a scaler of n features takes serialised. */
size_t scaler_serial_size_for(int n);

/** Reads a scaler of n features from buf (size bytes); NULL with err
 *  filled when size is wrong or a value is impossible (quantiles not
 *  finite or not ascending). Caller frees. */
struct scaler *scaler_read(const void *buf, size_t size, int n, char *err,
			   size_t err_size);

#endif
