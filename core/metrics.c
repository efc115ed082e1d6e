/* Classification metrics and the report's statistics: see metrics.h. */
#include "core/metrics.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

double metrics_accuracy(const float *p, const float *y, int n)
{
	if (n < 1)
		return NAN;
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += (p[i] >= 0.5f) == (y[i] >= 0.5f);
	return (double)ok / n;
}

struct scored {
	float p;
	int pos;
};

static int cmp_scored(const void *a, const void *b)
{
	float x = ((const struct scored *)a)->p;
	float y = ((const struct scored *)b)->p;
	return (x > y) - (x < y);
}

double metrics_auc(const float *p, const float *y, int n)
{
	if (n < 2)
		return NAN;
	struct scored *s = malloc(sizeof(*s) * n);
	if (!s)
		return NAN;
	long npos = 0;
	for (int i = 0; i < n; i++) {
		s[i].p = p[i];
		s[i].pos = y[i] >= 0.5f;
		npos += s[i].pos;
	}
	long nneg = n - npos;
	if (npos == 0 || nneg == 0) {
		free(s);
		return NAN;
	}
	qsort(s, n, sizeof(*s), cmp_scored);
	/* Sum of the positives' ranks, tied groups sharing their mean rank. */
	double rank_sum = 0;
	for (int i = 0; i < n;) {
		int j = i;
		long pos = 0;
		/* j == i always advances, so a NaN cannot stall the loop */
		do
			pos += s[j++].pos;
		while (j < n && s[j].p == s[i].p);
		double mean_rank = (i + 1 + j) / 2.0;
		rank_sum += pos * mean_rank;
		i = j;
	}
	free(s);
	return (rank_sum - npos * (npos + 1) / 2.0) / ((double)npos * nneg);
}

double metrics_logloss(const float *p, const float *y, int n)
{
	if (n < 1)
		return NAN;
	double s = 0;
	for (int i = 0; i < n; i++) {
		double q = p[i];
		q = q < 1e-7 ? 1e-7 : q > 1 - 1e-7 ? 1 - 1e-7 : q;
		s -= y[i] >= 0.5f ? log(q) : log(1 - q);
	}
	return s / n;
}

/* Column j of the matrix made of x (n × dim) and, as column dim, y. */
static double column(const float *x, const float *y, int dim, int i, int j)
{
	return j < dim ? (double)x[(size_t)i * (size_t)dim + (size_t)j]
		       : (double)y[i];
}

/* Whether a column with this mean and sum of squared deviations over n rows
 * is constant, allowing for the rounding of the mean. */
static bool is_constant(double mean, double ss, int n)
{
	return !(ss / n > 1e-12 * (mean * mean) + 1e-300);
}

bool metrics_correlation(double *r, const float *x, const float *y, int n,
			int dim)
{
	assert(r && n >= 0 && dim >= 0);
	assert(n == 0 || dim == 0 || x);
	int m = dim + (y ? 1 : 0);
	for (int k = 0; k < m * m; k++)
		r[k] = NAN;
	if (n < 2 || m == 0)
		return true;
	double *mean = calloc((size_t)m, sizeof *mean);
	double *dev = calloc((size_t)m, sizeof *dev);
	double *ss = calloc((size_t)m * (size_t)m, sizeof *ss);
	if (!mean || !dev || !ss) {
		free(mean);
		free(dev);
		free(ss);
		return false;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < m; j++)
			mean[j] += column(x, y, dim, i, j);
	for (int j = 0; j < m; j++)
		mean[j] /= n;
	/* ss (m × m) = Σ_i dev_i dev_iᵀ, upper triangle. */
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < m; j++)
			dev[j] = column(x, y, dim, i, j) - mean[j];
		for (int j = 0; j < m; j++)
			for (int k = j; k < m; k++)
				ss[j * m + k] += dev[j] * dev[k];
	}
	for (int j = 0; j < m; j++) {
		if (is_constant(mean[j], ss[j * m + j], n))
			continue;
		for (int k = j; k < m; k++) {
			if (is_constant(mean[k], ss[k * m + k], n))
				continue;
			double v = ss[j * m + k] /
				   sqrt(ss[j * m + j] * ss[k * m + k]);
			v = v > 1 ? 1 : v < -1 ? -1 : v;
			r[j * m + k] = r[k * m + j] = v;
		}
	}
	free(mean);
	free(dev);
	free(ss);
	return true;
}

/* Diagonalises the symmetric a (d × d, destroyed: its diagonal becomes the
 * eigenvalues) by cyclic Jacobi rotations; v (d × d) receives the
 * eigenvectors as columns. */
static void jacobi(double *a, double *v, int d)
{
	for (int i = 0; i < d * d; i++)
		v[i] = 0;
	for (int i = 0; i < d; i++)
		v[i * d + i] = 1;
	double total = 0;
	for (int i = 0; i < d * d; i++)
		total += a[i] * a[i];
	for (int sweep = 0; sweep < 100; sweep++) {
		double off = 0;
		for (int p = 0; p < d; p++)
			for (int q = p + 1; q < d; q++)
				off += a[p * d + q] * a[p * d + q];
		if (off <= 1e-30 * total)
			break;
		for (int p = 0; p < d; p++) {
			for (int q = p + 1; q < d; q++) {
				double apq = a[p * d + q];
				if (apq == 0)
					continue;
				/* The rotation J (c at pp and qq, s at pq,
				 * -s at qp) with (Jᵀ a J)pq = 0
				 * (Numerical Recipes, §11.1). */
				double theta = (a[q * d + q] - a[p * d + p]) /
					       (2 * apq);
				double t = 1 / (fabs(theta) +
						sqrt(theta * theta + 1));
				if (theta < 0)
					t = -t;
				double c = 1 / sqrt(t * t + 1), s = t * c;
				for (int k = 0; k < d; k++) {
					double kp = a[k * d + p],
					       kq = a[k * d + q];
					a[k * d + p] = c * kp - s * kq;
					a[k * d + q] = s * kp + c * kq;
				}
				for (int k = 0; k < d; k++) {
					double pk = a[p * d + k],
					       qk = a[q * d + k];
					a[p * d + k] = c * pk - s * qk;
					a[q * d + k] = s * pk + c * qk;
				}
				for (int k = 0; k < d; k++) {
					double kp = v[k * d + p],
					       kq = v[k * d + q];
					v[k * d + p] = c * kp - s * kq;
					v[k * d + q] = s * kp + c * kq;
				}
			}
		}
	}
}

/* Entry j of row i standardised with mean and inverse deviation inv (0 for
 * a constant column); non-finite values count as the mean. */
static double standard(const float *x, int dim, int i, int j,
		       const double *mean, const double *inv)
{
	double v = x[(size_t)i * (size_t)dim + (size_t)j];
	return isfinite(v) ? (v - mean[j]) * inv[j] : 0;
}

/* mean (dim) and inv (dim), the inverse standard deviation of each column
 * of x (n × dim) over its finite values (0 for a constant column). False
 * when out of memory. */
static bool column_scales(double *mean, double *inv, const float *x, int n,
			  int dim)
{
	size_t d = (size_t)dim;
	int *count = calloc(d, sizeof *count);
	if (!count)
		return false;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++) {
			double v = x[(size_t)i * d + (size_t)j];
			if (isfinite(v)) {
				mean[j] += v;
				count[j]++;
			}
		}
	for (int j = 0; j < dim; j++)
		mean[j] = count[j] ? mean[j] / count[j] : 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++) {
			double v = x[(size_t)i * d + (size_t)j];
			if (isfinite(v))
				inv[j] += (v - mean[j]) * (v - mean[j]);
		}
	for (int j = 0; j < dim; j++)
		inv[j] = count[j] < 2 || is_constant(mean[j], inv[j],
						     count[j])
				 ? 0
				 : 1 / sqrt(inv[j] / (count[j] - 1));
	free(count);
	return true;
}

/* cov (d × d, zeroed) = Σ_i z_i z_iᵀ / (n - 1), z (d, scratch) the
 * standardised rows of x (n × d). */
static void standard_covariance(double *cov, double *z, const float *x,
				int n, int dim, const double *mean,
				const double *inv)
{
	size_t d = (size_t)dim;
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < dim; j++)
			z[j] = standard(x, dim, i, j, mean, inv);
		for (int j = 0; j < dim; j++)
			for (int k = j; k < dim; k++)
				cov[(size_t)j * d + (size_t)k] += z[j] * z[k];
	}
	for (int j = 0; j < dim; j++)
		for (int k = j; k < dim; k++) {
			double c = cov[(size_t)j * d + (size_t)k] / (n - 1);
			cov[(size_t)j * d + (size_t)k] = c;
			cov[(size_t)k * d + (size_t)j] = c;
		}
}

/* best[0], best[1]: the indices of the largest and second largest entry on
 * the diagonal of eig (d × d); -1 where there are fewer. */
static void two_largest(int best[2], const double *eig, int dim)
{
	size_t d = (size_t)dim;
	best[0] = best[1] = -1;
	for (int j = 0; j < dim; j++) {
		double l = eig[(size_t)j * d + (size_t)j];
		if (best[0] < 0 || l > eig[(size_t)best[0] * (d + 1)]) {
			best[1] = best[0];
			best[0] = j;
		} else if (best[1] < 0 ||
			   l > eig[(size_t)best[1] * (d + 1)]) {
			best[1] = j;
		}
	}
}

/* coords[2 i + c] = the standardised row i of x projected on column b of
 * vec (d × d), signed so that the column's largest entry is positive. */
static void project(double *coords, int c, const float *x, int n, int dim,
		    const double *mean, const double *inv, const double *vec,
		    int b)
{
	size_t d = (size_t)dim;
	/* The sign of an eigenvector is arbitrary: make its largest entry
	 * positive so the map does not flip between runs. */
	int big = 0;
	for (int j = 1; j < dim; j++)
		if (fabs(vec[(size_t)j * d + (size_t)b]) >
		    fabs(vec[(size_t)big * d + (size_t)b]))
			big = j;
	double sign = vec[(size_t)big * d + (size_t)b] < 0 ? -1 : 1;
	for (int i = 0; i < n; i++) {
		double p = 0;
		for (int j = 0; j < dim; j++)
			p += standard(x, dim, i, j, mean, inv) *
			     vec[(size_t)j * d + (size_t)b];
		coords[2 * i + c] = sign * p;
	}
}

bool metrics_pca(double *coords, double share[2], const float *x, int n,
		int dim)
{
	assert(coords && share && (n <= 0 || dim <= 0 || x));
	if (n < 2 || dim < 1)
		return false;
	size_t d = (size_t)dim;
	double *mean = calloc(d, sizeof *mean), *inv = calloc(d, sizeof *inv);
	double *z = calloc(d, sizeof *z), *cov = calloc(d * d, sizeof *cov);
	double *vec = calloc(d * d, sizeof *vec);
	bool ok = mean && inv && z && cov && vec &&
		  column_scales(mean, inv, x, n, dim);
	if (!ok)
		goto done;
	standard_covariance(cov, z, x, n, dim, mean, inv);
	double trace = 0;
	for (int j = 0; j < dim; j++)
		trace += cov[(size_t)j * d + (size_t)j];
	jacobi(cov, vec, dim);
	int best[2];
	two_largest(best, cov, dim);
	for (int c = 0; c < 2; c++) {
		int b = best[c];
		if (b < 0 || trace <= 0) {
			share[c] = 0;
			for (int i = 0; i < n; i++)
				coords[2 * i + c] = 0;
			continue;
		}
		double l = cov[(size_t)b * (d + 1)];
		share[c] = l > 0 ? l / trace : 0;
		project(coords, c, x, n, dim, mean, inv, vec, b);
	}
done:
	free(mean);
	free(inv);
	free(z);
	free(cov);
	free(vec);
	return ok;
}
