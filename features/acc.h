/* Running mean and standard deviation, for the per-frame descriptors that
 * end up as a mean and a spread in the vector. Header-only, internal to
 * features/. */
#ifndef MPDREC_ACC_H
#define MPDREC_ACC_H

#include <math.h>

struct acc {
	double sum;
	double sumsq;
	long n;
};

/** Adds one observation. */
static inline void acc_add(struct acc *a, double x)
{
	a->sum += x;
	a->sumsq += x * x;
	a->n++;
}

/** Returns the mean, 0 when empty. */
static inline double acc_mean(const struct acc *a)
{
	return a->n > 0 ? a->sum / (double)a->n : 0;
}

/** Returns the population standard deviation, 0 when empty. */
static inline double acc_std(const struct acc *a)
{
	if (a->n < 2)
		return 0;
	double m = a->sum / (double)a->n;
	double v = a->sumsq / (double)a->n - m * m;
	return v > 0 ? sqrt(v) : 0;
}

/** Returns x when finite, else 0: nothing but numbers leaves features/. */
static inline float acc_finite(double x)
{
	return isfinite(x) ? (float)x : 0.0f;
}

#endif
