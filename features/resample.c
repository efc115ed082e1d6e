#include "features/resample.h"
#include "features/vectorize.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

/* Half-band low-pass: HB_TAPS non-zero taps on each side of the centre, at
 * odd offsets up to HB_REACH; a Kaiser window (beta 5) on the ideal filter.
 * Flat to 0.20 of the input rate (8.8 kHz from 44.1 kHz; -0.8 dB at 0.22),
 * -6 dB at the new Nyquist frequency, -21 dB at 0.28 and below -50 dB from
 * 0.30 (13.2 kHz): what folds back lands above 8.8 kHz, attenuated, where
 * the analysis looks least. */
#define HB_TAPS 8
#define HB_REACH (2 * HB_TAPS - 1)
#define HB_BETA 5.0
#define MAX_HALVINGS 16
#define HB_BLOCK 64

struct halfband {
	float *buf;	/* buf[0, len): the next centre is buf[HB_REACH] */
	long len, cap;
	bool avx;	/* the CPU has AVX: hb_block_avx() */
};

struct resample {
	int in_rate, out_rate;
	int halvings;
	float *stage;			/* input when there is no halving */
	long stage_cap;
	float h[HB_TAPS];		/* taps at offsets 1, 3, 5, ... */
	struct halfband hb[MAX_HALVINGS];
	float *tmp[2];			/* between stages */
	long tmp_cap;
	SwrContext *swr;		/* the last step, or NULL */
	int mid_rate;			/* the rate swr is fed */
};

static double bessel_i0(double x)
{
	double sum = 1, term = 1;
	for (int k = 1; k < 50; k++) {
		term *= (x / (2 * k)) * (x / (2 * k));
		sum += term;
	}
	return sum;
}

static void design(float *h)
{
	double span = 2 * HB_TAPS;
	for (int k = 0; k < HB_TAPS; k++) {
		int n = 2 * k + 1;
		double x = n / span;
		double w = bessel_i0(HB_BETA * sqrt(1 - x * x)) /
			   bessel_i0(HB_BETA);
		h[k] = (float)(sin(M_PI * n / 2) / (M_PI * n) * w);
	}
}

static void hb_reset(struct halfband *b)
{
	memset(b->buf, 0, HB_REACH * sizeof *b->buf);
	b->len = HB_REACH;
}

static bool hb_append(struct halfband *b, const float *x, long n)
{
	if (b->len + n > b->cap) {
		long cap = b->len + n + 4096;
		float *p = realloc(b->buf, (size_t)cap * sizeof *p);
		if (!p)
			return false;
		b->buf = p;
		b->cap = cap;
	}
	if (x)
		memcpy(b->buf + b->len, x, (size_t)n * sizeof *x);
	else
		memset(b->buf + b->len, 0, (size_t)n * sizeof *x);
	b->len += n;
	return true;
}

/* Splits 2 n samples of x into its even and odd ones. */
static void deinterleave(const float *restrict x, float *restrict even,
			 float *restrict odd, int n)
{
	int j = 0;
#if defined(__SSE__)
	for (; j + 4 <= n; j += 4) {
		__m128 a = _mm_loadu_ps(x + 2 * j), b = _mm_loadu_ps(x + 2 * j + 4);
		_mm_storeu_ps(even + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
		_mm_storeu_ps(odd + j, _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
	}
#endif
	for (; j < n; j++) {
		even[j] = x[2 * j];
		odd[j] = x[2 * j + 1];
	}
}

/* HB_BLOCK outputs whose centres are c0, c0 + 2, ... of buf (c0 odd): the
 * taps fall on the even samples between the centres. Both are split apart
 * first, so that the filter runs over contiguous floats, four outputs at a
 * time in one register (the plain loops compile to vector code too). */
static void hb_block(const float *restrict buf, long c0,
		     const float *restrict h, float *restrict out)
{
	float e[HB_BLOCK + 2 * HB_TAPS], o[HB_BLOCK + 2 * HB_TAPS];
	deinterleave(buf + c0 - HB_REACH, e, o, HB_BLOCK + 2 * HB_TAPS - 1);
	const float *centre = o + HB_TAPS - 1;
#if defined(__SSE__)
	const __m128 half = _mm_set1_ps(0.5f);
	for (int i = 0; i < HB_BLOCK; i += 4) {
		__m128 acc = _mm_mul_ps(half, _mm_loadu_ps(centre + i));
		for (int k = 0; k < HB_TAPS; k++) {
			__m128 a = _mm_loadu_ps(e + HB_TAPS - 1 - k + i);
			__m128 b = _mm_loadu_ps(e + HB_TAPS + k + i);
			acc = _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(h[k]),
							 _mm_add_ps(a, b)));
		}
		_mm_storeu_ps(out + i, acc);
	}
#else
	for (int i = 0; i < HB_BLOCK; i++)
		out[i] = 0.5f * centre[i];
	for (int k = 0; k < HB_TAPS; k++) {
		const float *a = e + HB_TAPS - 1 - k, *b = e + HB_TAPS + k;
		float hk = h[k];
		for (int i = 0; i < HB_BLOCK; i++)
			out[i] += hk * (a[i] + b[i]);
	}
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_HB_AVX 1
/* hb_block eight outputs at a time, for CPUs with AVX: the same
 * operations on each output in the same order (no fused multiply-add), so
 * the same floats to the bit. */
__attribute__((target("avx")))
static void hb_block_avx(const float *restrict buf, long c0,
			 const float *restrict h, float *restrict out)
{
	float e[HB_BLOCK + 2 * HB_TAPS], o[HB_BLOCK + 2 * HB_TAPS];
	deinterleave(buf + c0 - HB_REACH, e, o, HB_BLOCK + 2 * HB_TAPS - 1);
	const float *centre = o + HB_TAPS - 1;
	const __m256 half = _mm256_set1_ps(0.5f);
	for (int i = 0; i < HB_BLOCK; i += 8) {
		__m256 acc = _mm256_mul_ps(half, _mm256_loadu_ps(centre + i));
		for (int k = 0; k < HB_TAPS; k++) {
			__m256 a = _mm256_loadu_ps(e + HB_TAPS - 1 - k + i);
			__m256 b = _mm256_loadu_ps(e + HB_TAPS + k + i);
			acc = _mm256_add_ps(acc, _mm256_mul_ps(
				_mm256_set1_ps(h[k]), _mm256_add_ps(a, b)));
		}
		_mm256_storeu_ps(out + i, acc);
	}
}
#endif

/* Filters and halves what b holds: every centre with its whole reach
 * present, in whole blocks only unless flushing (the rest waits for the
 * next call). Returns the samples written to out. */
static long hb_run(struct halfband *b, const float *h, float *out, bool flush)
{
	long c = HB_REACH, n = 0;
	/* The block reads one sample past its last tap. */
	for (; c + 2 * (HB_BLOCK - 1) + HB_REACH + 1 < b->len;
	     c += 2 * HB_BLOCK) {
#ifdef HAVE_HB_AVX
		if (b->avx)
			hb_block_avx(b->buf, c, h, out + n);
		else
#endif
			hb_block(b->buf, c, h, out + n);
		n += HB_BLOCK;
	}
	for (; flush && c + HB_REACH < b->len; c += 2) {
		const float *p = b->buf + c;
		float y = 0.5f * p[0];
		for (int k = 0; k < HB_TAPS; k++)
			y += h[k] * (p[-(2 * k + 1)] + p[2 * k + 1]);
		out[n++] = y;
	}
	long used = c - HB_REACH;
	memmove(b->buf, b->buf + used, (size_t)(b->len - used) * sizeof *b->buf);
	b->len -= used;
	return n;
}

static bool build_swr(struct resample *r, char *err, size_t err_size)
{
	AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
	int ret = swr_alloc_set_opts2(&r->swr, &mono, AV_SAMPLE_FMT_FLT,
				      r->out_rate, &mono, AV_SAMPLE_FMT_FLT,
				      r->mid_rate, 0, NULL);
	if (ret >= 0)
		ret = swr_init(r->swr);
	if (ret < 0) {
		char text[AV_ERROR_MAX_STRING_SIZE];
		av_strerror(ret, text, sizeof text);
		snprintf(err, err_size, "resampler (%d Hz): %s", r->mid_rate,
			 text);
		return false;
	}
	return true;
}

struct resample *resample_new(int in_rate, int out_rate, char *err,
			      size_t err_size)
{
	if (in_rate <= 0 || out_rate <= 0) {
		snprintf(err, err_size, "resampler: bad rate %d Hz", in_rate);
		return NULL;
	}
	struct resample *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	design(r->h);
	int rate = in_rate;
	while (rate % 2 == 0 && rate / 2 >= out_rate &&
	       r->halvings < MAX_HALVINGS) {
		struct halfband *b = &r->hb[r->halvings++];
		if (!hb_append(b, NULL, HB_REACH))
			goto oom;
#ifdef HAVE_HB_AVX
		b->avx = __builtin_cpu_supports("avx");
#endif
		rate /= 2;
	}
	r->mid_rate = rate;
	if (rate != out_rate && !build_swr(r, err, err_size)) {
		resample_free(r);
		return NULL;
	}
	return r;
oom:
	snprintf(err, err_size, "out of memory");
	resample_free(r);
	return NULL;
}

long resample_room(const struct resample *r, long n)
{
	long m = n;
	for (int i = 0; i < r->halvings; i++)
		m = (m + 2 * (HB_BLOCK + HB_REACH)) / 2 + 2;
	if (r->swr) {
		int k = swr_get_out_samples(r->swr, m > 1 << 30 ? 1 << 30
							    : (int)m);
		m = k > 0 ? k : 0;
	}
	return m + 1;
}

static bool reserve_tmp(struct resample *r, long n)
{
	if (n <= r->tmp_cap)
		return true;
	for (int i = 0; i < 2; i++) {
		float *p = realloc(r->tmp[i], (size_t)n * sizeof *p);
		if (!p)
			return false;
		r->tmp[i] = p;
	}
	r->tmp_cap = n;
	return true;
}

/* Runs the stages over n samples of in (NULL: already in the first
 * stage's buffer or in r->stage); with flush, then drains them. */
static long run(struct resample *r, const float *in, long n, float *out,
		long cap, bool flush)
{
	const float *x = in ? in : r->stage;
	if (!reserve_tmp(r, n / 2 + HB_BLOCK + 2 * HB_REACH + 16))
		return -1;
	for (int i = 0; i < r->halvings; i++) {
		struct halfband *b = &r->hb[i];
		if ((i > 0 || in) && !hb_append(b, x, n))
			return -1;
		if (flush && !hb_append(b, NULL, HB_REACH))
			return -1;
		float *dst = i + 1 == r->halvings && !r->swr ? out
							     : r->tmp[i % 2];
		n = hb_run(b, r->h, dst, flush);
		if (flush)
			hb_reset(b);
		x = dst;
	}
	if (!r->swr) {
		if (r->halvings == 0 && n > 0)
			memcpy(out, x, (size_t)n * sizeof *out);
		return n;
	}
	int room = cap > 1 << 30 ? 1 << 30 : (int)cap;
	const uint8_t *src = (const uint8_t *)x;
	uint8_t *dst = (uint8_t *)out;
	int got = n > 0 ? swr_convert(r->swr, &dst, room, &src, (int)n) : 0;
	if (got >= 0 && flush) {
		dst = (uint8_t *)(out + got);
		int more = swr_convert(r->swr, &dst, room - got, NULL, 0);
		got = more < 0 ? more : got + more;
	}
	return got < 0 ? -1 : got;
}

long resample_do(struct resample *r, const float *in, long n, float *out,
		 long cap)
{
	return run(r, in, n, out, cap, false);
}

float *resample_input(struct resample *r, long n)
{
	if (r->halvings > 0) {
		struct halfband *b = &r->hb[0];
		if (!hb_append(b, NULL, n))
			return NULL;
		b->len -= n;	/* reserved, not yet there */
		return b->buf + b->len;
	}
	if (n > r->stage_cap) {
		float *p = realloc(r->stage, (size_t)n * sizeof *p);
		if (!p)
			return NULL;
		r->stage = p;
		r->stage_cap = n;
	}
	return r->stage;
}

long resample_push(struct resample *r, long n, float *out, long cap)
{
	if (r->halvings > 0)
		r->hb[0].len += n;
	return run(r, NULL, n, out, cap, false);
}

long resample_flush(struct resample *r, float *out, long cap)
{
	long got = run(r, NULL, 0, out, cap, true);
	resample_reset(r);
	return got;
}

void resample_reset(struct resample *r)
{
	for (int i = 0; i < r->halvings; i++)
		hb_reset(&r->hb[i]);
	if (r->swr) {
		swr_close(r->swr);
		swr_init(r->swr);
	}
}

int resample_halvings(const struct resample *r)
{
	return r->halvings;
}

int resample_uses_swr(const struct resample *r)
{
	return r->swr != NULL;
}

void resample_free(struct resample *r)
{
	if (!r)
		return;
	for (int i = 0; i < MAX_HALVINGS; i++)
		free(r->hb[i].buf);
	free(r->tmp[0]);
	free(r->tmp[1]);
	free(r->stage);
	swr_free(&r->swr);
	free(r);
}
