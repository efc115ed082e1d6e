/* Robust min-max scaler: see scaler.h. */
#include "core/scaler.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A feature is "skewed" when its median lies in the bottom SKEW_SHARE of
 * its 1st–99th percentile range; its log shift is LOG_SHIFT_SHARE of the
 * 99th percentile, so values far below that (5.83e-05 against 0.9) count
 * as "about zero" instead of dominating the range. */
#define SKEW_SHARE 0.2
#define LOG_SHIFT_SHARE 0.01

enum { KIND_LINEAR = 0, KIND_LOG = 1 };

struct feature {
	int32_t kind;
	float shift;		/* log(x + shift) for KIND_LOG */
	float lo, hi;		/* transformed 1st and 99th percentiles */
	float mid;		/* scaled median */
};

struct scaler {
	int n;
	struct feature *f;
};

struct scaler *scaler_new(int n)
{
	assert(n > 0);
	struct scaler *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->n = n;
	s->f = calloc((size_t)n, sizeof(*s->f));
	if (!s->f) {
		free(s);
		return NULL;
	}
	for (int j = 0; j < n; j++)
		s->f[j] = (struct feature){ KIND_LINEAR, 0, 0, 1, 0.5f };
	return s;
}

void scaler_free(struct scaler *s)
{
	if (!s)
		return;
	free(s->f);
	free(s);
}

struct scaler *scaler_clone(const struct scaler *s)
{
	struct scaler *c = scaler_new(s->n);
	if (c)
		memcpy(c->f, s->f, sizeof(*s->f) * s->n);
	return c;
}

int scaler_features(const struct scaler *s)
{
	return s->n;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Linear interpolation between order statistics of sorted v (n). */
static double percentile(const float *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)floor(pos);
	if (i >= n - 1)
		return v[n - 1];
	double t = pos - i;
	return v[i] + t * ((double)v[i + 1] - v[i]);
}

static float transform(const struct feature *f, float x)
{
	return f->kind == KIND_LOG ? logf((x > 0 ? x : 0) + f->shift) : x;
}

static float scale_one(const struct feature *f, float x)
{
	if (!isfinite(x))
		return f->mid;
	float t = transform(f, x);
	if (!(f->hi > f->lo))
		return 0.0f;
	float u = (t - f->lo) / (f->hi - f->lo);
	return u < 0.0f ? 0.0f : u > 1.0f ? 1.0f : u;
}

bool scaler_fit(struct scaler *s, const float *x, int rows, bool log_skewed,
		char *err, size_t err_size)
{
	if (rows < 1) {
		snprintf(err, err_size, "scaler: no rows to fit on");
		return false;
	}
	float *col = malloc(sizeof(float) * rows);
	struct feature *f = malloc(sizeof(*f) * s->n);
	if (!col || !f) {
		free(col), free(f);
		snprintf(err, err_size, "scaler: out of memory");
		return false;
	}
	for (int j = 0; j < s->n; j++) {
		for (int i = 0; i < rows; i++) {
			col[i] = x[(size_t)i * s->n + j];
			if (!isfinite(col[i])) {
				snprintf(err, err_size,
					 "scaler: row %d, feature %d is not "
					 "a finite number", i, j);
				free(col), free(f);
				return false;
			}
		}
		qsort(col, rows, sizeof(float), cmp_float);
		double p1 = percentile(col, rows, 0.01);
		double p50 = percentile(col, rows, 0.50);
		double p99 = percentile(col, rows, 0.99);
		struct feature *g = &f[j];
		*g = (struct feature){ KIND_LINEAR, 0, (float)p1, (float)p99,
				       0 };
		if (log_skewed && col[0] >= 0 && p99 > p1 &&
		    p50 - p1 < SKEW_SHARE * (p99 - p1)) {
			g->kind = KIND_LOG;
			g->shift = (float)(LOG_SHIFT_SHARE * p99);
			/* log is monotonic: percentiles carry over */
			g->lo = transform(g, (float)p1);
			g->hi = transform(g, (float)p99);
		}
		g->mid = 0.5f;
		g->mid = scale_one(g, (float)p50);
	}
	memcpy(s->f, f, sizeof(*f) * s->n);
	free(col), free(f);
	return true;
}

void scaler_apply(const struct scaler *s, const float *x, int rows,
		  float *out)
{
	for (int r = 0; r < rows; r++) {
		const float *in = x + (size_t)r * s->n;
		float *o = out + (size_t)r * s->n;
		for (int j = 0; j < s->n; j++)
			o[j] = scale_one(&s->f[j], in[j]);
	}
}

float scaler_median(const struct scaler *s, int j)
{
	assert(j >= 0 && j < s->n);
	return s->f[j].mid;
}

bool scaler_is_log(const struct scaler *s, int j)
{
	assert(j >= 0 && j < s->n);
	return s->f[j].kind == KIND_LOG;
}

#define SERIAL_FEATURE 20	/* int32 kind, four floats */

size_t scaler_serial_size(const struct scaler *s)
{
	return (size_t)s->n * SERIAL_FEATURE;
}

void scaler_write(const struct scaler *s, void *buf)
{
	unsigned char *p = buf;
	for (int j = 0; j < s->n; j++) {
		const struct feature *f = &s->f[j];
		memcpy(p, &f->kind, 4);
		memcpy(p + 4, &f->shift, 4);
		memcpy(p + 8, &f->lo, 4);
		memcpy(p + 12, &f->hi, 4);
		memcpy(p + 16, &f->mid, 4);
		p += SERIAL_FEATURE;
	}
}

struct scaler *scaler_read(const void *buf, size_t size, int n, char *err,
			   size_t err_size)
{
	if (n < 1 || size != (size_t)n * SERIAL_FEATURE) {
		snprintf(err, err_size, "scaler: %zu bytes for %d features",
			 size, n);
		return NULL;
	}
	struct scaler *s = scaler_new(n);
	if (!s) {
		snprintf(err, err_size, "scaler: out of memory");
		return NULL;
	}
	const unsigned char *p = buf;
	for (int j = 0; j < n; j++) {
		struct feature *f = &s->f[j];
		memcpy(&f->kind, p, 4);
		memcpy(&f->shift, p + 4, 4);
		memcpy(&f->lo, p + 8, 4);
		memcpy(&f->hi, p + 12, 4);
		memcpy(&f->mid, p + 16, 4);
		p += SERIAL_FEATURE;
		if ((f->kind != KIND_LINEAR && f->kind != KIND_LOG) ||
		    !isfinite(f->shift) || !isfinite(f->lo) ||
		    !isfinite(f->hi) || !isfinite(f->mid) ||
		    (f->kind == KIND_LOG && !(f->shift > 0))) {
			snprintf(err, err_size,
				 "scaler: feature %d has impossible values", j);
			scaler_free(s);
			return NULL;
		}
	}
	return s;
}
