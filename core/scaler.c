/* Quantile scaler: see scaler.h. */
#include "core/scaler.h"

#include "core/util.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K (SCALER_KNOTS - 1)		/* intervals between knots */

struct feature {
	float v[SCALER_KNOTS];	/* quantile i / K, ascending */
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
	for (int j = 0; j < n; j++) {
		for (int i = 0; i <= K; i++)
			s->f[j].v[i] = (float)i / K;
		s->f[j].mid = 0.5f;
	}
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

/* u(x) for finite x: the level of x among the knots, interpolated
 * between neighbours; a value equal to knots lo..hi takes the middle of
 * their levels. */
static float scale_finite(const struct feature *f, float x)
{
	if (x < f->v[0])
		return 0.0f;
	if (x > f->v[K])
		return 1.0f;
	/* First knot >= x: the number of knots below x, counted over all of
	 * them at once (vectorised; a binary search waits on each step). The
	 * last knot is >= x here. */
	int first_ge = 0;
	for (int i = 0; i < K; i++)
		first_ge += f->v[i] < x;
	if (f->v[first_ge] == x) {
		int last = first_ge;	/* ties are short: walk */
		while (last < K && f->v[last + 1] == x)
			last++;
		return (float)(first_ge + last) / (2.0f * K);
	}
	int i = first_ge - 1;		/* v[i] < x < v[i + 1] */
	float t = (x - f->v[i]) / (f->v[i + 1] - f->v[i]);
	return ((float)i + t) / K;
}

static float scale_one(const struct feature *f, float x)
{
	return isfinite(x) ? scale_finite(f, x) : f->mid;
}

/* Row indices to read, m of rows: all, or a uniform sample (reservoir,
 * fixed seed); sorted afterwards so the reads walk memory forward. */
static void pick_rows(int *idx, int m, int rows)
{
	for (int i = 0; i < m; i++)
		idx[i] = i;
	uint64_t rng = 0x5ca1e5eedULL;
	for (int i = m; i < rows; i++) {
		uint64_t r = util_rand_u64(&rng) % (uint64_t)(i + 1);
		if (r < (uint64_t)m)
			idx[r] = i;
	}
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Quantile q of sorted v (n), interpolated between order statistics. */
static double quantile(const float *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)floor(pos);
	if (i >= n - 1)
		return v[n - 1];
	return v[i] + (pos - i) * ((double)v[i + 1] - v[i]);
}

/* Sorts the finite floats v (n) ascending: an LSD radix sort of their
 * bits, 8 at a time, through key and tmp (n each). A retrain fits the
 * scaler on up to 16,384 rows of every feature: qsort's comparisons
 * were most of the part of a retrain's cost that grows with the
 * library. */
static void sort_floats(float *v, uint32_t *key, uint32_t *tmp, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], sizeof u);
		/* negative: all bits flipped; else the sign bit set */
		key[i] = u & 0x80000000u ? ~u : u | 0x80000000u;
	}
	for (int shift = 0; shift < 32; shift += 8) {
		int count[257] = { 0 };
		for (int i = 0; i < n; i++)
			count[((key[i] >> shift) & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (int i = 0; i < n; i++)
			tmp[count[(key[i] >> shift) & 0xff]++] = key[i];
		uint32_t *t = key;
		key = tmp;
		tmp = t;
	}
	/* four passes: the sorted keys are back in the caller's key */
	for (int i = 0; i < n; i++) {
		uint32_t u = key[i] & 0x80000000u ? key[i] & 0x7fffffffu
						  : ~key[i];
		memcpy(&v[i], &u, sizeof u);
	}
}

static void fit_feature(struct feature *g, float *col, uint32_t *key,
			uint32_t *tmp, int m)
{
	sort_floats(col, key, tmp, m);
	for (int i = 0; i <= K; i++)
		g->v[i] = (float)quantile(col, m, (double)i / K);
	for (int i = 1; i <= K; i++)	/* float rounding: keep ascending */
		if (g->v[i] < g->v[i - 1])
			g->v[i] = g->v[i - 1];
	g->mid = 0.5f;
	g->mid = scale_finite(g, (float)quantile(col, m, 0.5));
}

bool scaler_fit(struct scaler *s, const float *x, int rows, int max_rows,
		char *err, size_t err_size)
{
	if (rows < 1) {
		snprintf(err, err_size, "scaler: no rows to fit on");
		return false;
	}
	int m = max_rows > 0 && max_rows < rows ? max_rows : rows;
	int *idx = malloc(sizeof(int) * m);
	float *col = malloc(sizeof(float) * m);
	uint32_t *key = malloc(sizeof(uint32_t) * 2 * (size_t)m);
	struct feature *f = malloc(sizeof(*f) * s->n);
	bool ok = false;
	if (!idx || !col || !key || !f) {
		snprintf(err, err_size, "scaler: out of memory");
		goto done;
	}
	pick_rows(idx, m, rows);
	if (m < rows)
		qsort(idx, m, sizeof(int), cmp_int);
	for (int j = 0; j < s->n; j++) {
		for (int i = 0; i < m; i++) {
			col[i] = x[(size_t)idx[i] * s->n + j];
			if (!isfinite(col[i])) {
				snprintf(err, err_size,
					 "scaler: row %d, feature %d is not "
					 "a finite number", idx[i], j);
				goto done;
			}
		}
		fit_feature(&f[j], col, key, key + m, m);
	}
	memcpy(s->f, f, sizeof(*f) * s->n);
	ok = true;
done:
	free(idx), free(col), free(key), free(f);
	return ok;
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

#define SERIAL_FEATURE ((SCALER_KNOTS + 1) * 4)	/* knots, median */

size_t scaler_serial_size_for(int n)
{
	return (size_t)n * SERIAL_FEATURE;
}

size_t scaler_serial_size(const struct scaler *s)
{
	return scaler_serial_size_for(s->n);
}

void scaler_write(const struct scaler *s, void *buf)
{
	unsigned char *p = buf;
	for (int j = 0; j < s->n; j++) {
		memcpy(p, s->f[j].v, sizeof(s->f[j].v));
		memcpy(p + sizeof(s->f[j].v), &s->f[j].mid, 4);
		p += SERIAL_FEATURE;
	}
}

struct scaler *scaler_read(const void *buf, size_t size, int n, char *err,
			   size_t err_size)
{
	if (n < 1 || size != scaler_serial_size_for(n)) {
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
		memcpy(f->v, p, sizeof(f->v));
		memcpy(&f->mid, p + sizeof(f->v), 4);
		p += SERIAL_FEATURE;
		bool bad = !isfinite(f->mid) || f->mid < 0 || f->mid > 1;
		for (int i = 0; i <= K && !bad; i++)
			bad = !isfinite(f->v[i]) || (i && f->v[i] < f->v[i - 1]);
		if (bad) {
			snprintf(err, err_size,
				 "scaler: feature %d has impossible values", j);
			scaler_free(s);
			return NULL;
		}
	}
	return s;
}
