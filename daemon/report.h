/* The HTML report: one self-contained page (inline SVG and CSS, no script,
 * nothing fetched) drawn from the store: the learning curve of the full
 * retrains, how exploratory picks fared against exploiting ones, a PCA map
 * of the library coloured by the latest label of each track, and the
 * correlation matrix of the features with likes. Every string that comes
 * from the store (URIs, tags) is escaped.
 *
 * The arithmetic behind the plots (correlation, PCA) is exposed so the tests
 * can check it on data with a known answer.
 */
#ifndef MPDREC_REPORT_H
#define MPDREC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct store;

/** Writes s to f with HTML's special characters escaped (& < > " ' become
 *  entities; control characters other than tab and newline become U+FFFD),
 *  so the result is safe in element text and in quoted attributes. NULL
 *  writes nothing. */
void report_escape(FILE *f, const char *s);

/** Pearson correlation of every pair of the columns of x (n × dim,
 *  row-major) and, when y is not NULL, of the labels y (n) as one more
 *  column: r (m × m, row-major, m = dim + (y != NULL)) is filled, caller
 *  allocated. Entries of a constant column, or all when n < 2, are NaN (the
 *  diagonal too). Returns false only when out of memory. */
bool report_correlation(double *r, const float *x, const float *y, int n,
			int dim);

/** The first two principal components of x (n × dim, row-major) after
 *  standardising each column (constant columns drop out; non-finite values
 *  count as the column's mean): coords (n × 2, caller allocated) receives
 *  each row's position, share (2) the fraction of the total variance that
 *  each component explains. Eigenvectors come from Jacobi rotations of the
 *  covariance matrix, signed so their largest entry is positive. Returns
 *  false when n < 2, dim < 1 or out of memory. */
bool report_pca(double *coords, double share[2], const float *x, int n,
		int dim);

/** Writes the whole report of the store's contents to f as one HTML page
 *  dated `now` (epoch seconds). The store is only read. A fresh store gives a
 *  page that says there is nothing yet. Returns false with the reason in err
 *  on a database error or when out of memory; errors writing to f are the
 *  caller's to check (ferror, fclose). */
bool report_write_html(FILE *f, struct store *s, double now, char *err,
		       size_t err_size);

#endif
