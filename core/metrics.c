/* Classification metrics: see metrics.h. */
#include "core/metrics.h"

#include <math.h>
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
