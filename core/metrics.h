/* Classification metrics for probabilities against 0/1 labels, shared by
 * the model's training report and the offline evaluation; and the
 * statistics of the HTML report (correlation, PCA). */
#ifndef MPDREC_METRICS_H
#define MPDREC_METRICS_H

#include <stdbool.h>

/** Share of p (n) on the right side of 0.5 for labels y (n); NaN if n < 1. */
double metrics_accuracy(const float *p, const float *y, int n);

/** Area under the ROC curve (Mann–Whitney, ties count half); NaN when
 *  one class is missing or memory runs out. */
double metrics_auc(const float *p, const float *y, int n);

/** Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7];
 *  NaN if n < 1. */
double metrics_logloss(const float *p, const float *y, int n);

/* ---- the report's statistics ---- */

/** Pearson correlation of every pair of the columns of x (n × dim,
 *  row-major) and, when y is not NULL, of the labels y (n) as one more
 *  column: r (m × m, row-major, m = dim + (y != NULL)) is filled, caller
 *  allocated. Entries of a constant column, or all when n < 2, are NaN (the
 *  diagonal too). Returns false only when out of memory. */
bool metrics_correlation(double *r, const float *x, const float *y, int n,
			int dim);

/** The first two principal components of x (n × dim, row-major) after
 *  standardising each column (constant columns drop out; non-finite values
 *  count as the column's mean): coords (n × 2, caller allocated) receives
 *  each row's position, share (2) the fraction of the total variance that
 *  each component explains. Eigenvectors come from Jacobi rotations of the
 *  covariance matrix, signed so their largest entry is positive. Returns
 *  false when n < 2, dim < 1 or out of memory. */
bool metrics_pca(double *coords, double share[2], const float *x, int n,
		int dim);

#endif
