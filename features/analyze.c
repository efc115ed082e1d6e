#include "features/analyze.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features/decode.h"
#include "features/loudness.h"
#include "features/rhythm.h"
#include "features/spectral.h"
#include "features/tonal.h"

#define BLOCK 4096
#define HOP SPECTRAL_HOP
#define HIST_HOPS 32

struct analyze {
	struct spectral *spectral;
	struct rhythm *rhythm;
	struct tonal *tonal;
	struct loudness *loudness;
	/* buf[base, base + TONAL_WIN): the newest samples of the track,
	 * oldest first; new samples are written after them until a hop is
	 * full, then base moves on by a hop. The window slides down to the
	 * start only when it reaches the end: one copy per HIST_HOPS hops. */
	float buf[TONAL_WIN + HIST_HOPS * HOP];
	int base;
	int fill;
	long frame;
	double seconds;		/* analysed by the last run */
	float block[BLOCK];
};

_Static_assert(TONAL_WIN >= SPECTRAL_WIN && SPECTRAL_WIN >= HOP,
	       "frames nest in the history");

struct analyze *analyze_new(char *err, size_t err_size)
{
	struct analyze *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	a->spectral = spectral_new(DECODE_RATE);
	a->rhythm = rhythm_new(SPECTRAL_BINS, HOP, DECODE_RATE);
	a->tonal = tonal_new(DECODE_RATE, SPECTRAL_WIN);
	a->loudness = loudness_new(DECODE_RATE, SPECTRAL_WIN, HOP);
	if (!a->spectral || !a->rhythm || !a->tonal || !a->loudness) {
		snprintf(err, err_size, "cannot set up the analysis (aubio, "
					"libavutil's FFT or memory)");
		analyze_free(a);
		return NULL;
	}
	return a;
}

void analyze_free(struct analyze *a)
{
	if (!a)
		return;
	spectral_free(a->spectral);
	rhythm_free(a->rhythm);
	tonal_free(a->tonal);
	loudness_free(a->loudness);
	free(a);
}

/* One analysis frame over the history, `real` of whose newest hop samples
 * are audio (the rest is padding at the end of the track). */
static bool frame(struct analyze *a, int real, int excerpt)
{
	const float *hist = a->buf + a->base;
	const float *hop = hist + TONAL_WIN - HOP;
	const struct spectrum *sp = spectral_do(
		a->spectral, hist + TONAL_WIN - SPECTRAL_WIN, a->frame);
	float rms = loudness_frame(a->loudness, sp->power, sp->mean_square,
				   hop, (size_t)real);
	if (rms < 0)
		return false;
	if (!rhythm_do(a->rhythm, sp->mag, rms, excerpt))
		return false;
	tonal_do(a->tonal, hist, sp->power, a->frame, rms);
	a->frame++;
	return true;
}

static bool feed(struct analyze *a, const float *x, long n, int excerpt)
{
	while (n > 0) {
		int k = HOP - a->fill;
		if (k > n)
			k = (int)n;
		float *end = a->buf + a->base + TONAL_WIN;
		memcpy(end + a->fill, x, (size_t)k * sizeof *x);
		a->fill += k;
		x += k;
		n -= k;
		if (a->fill == HOP) {
			a->fill = 0;
			a->base += HOP;
			if (!frame(a, HOP, excerpt))
				return false;
			if (a->base + TONAL_WIN + HOP > (int)(sizeof a->buf /
						      sizeof *a->buf)) {
				memmove(a->buf, a->buf + a->base,
					TONAL_WIN * sizeof *a->buf);
				a->base = 0;
			}
		}
	}
	return true;
}

bool analyze_run(struct analyze *a, const char *path,
		 const struct analyze_opts *o, float *out, double *duration,
		 char *err, size_t err_size)
{
	int nf = features_count();
	struct decode *d = NULL;
	long n;
	int excerpt = 0;

	memset(out, 0, (size_t)nf * sizeof *out);
	*duration = 0;
	a->seconds = 0;
	spectral_reset(a->spectral);
	tonal_reset(a->tonal);
	loudness_reset(a->loudness);
	if (!rhythm_reset(a->rhythm)) {
		snprintf(err, err_size, "out of memory");
		return false;
	}
	memset(a->buf, 0, sizeof a->buf);
	a->base = 0;
	a->fill = 0;
	a->frame = 0;

	double max = o->max_seconds > 0 && o->max_seconds < ANALYZE_MAX_SECONDS
			     ? o->max_seconds
			     : ANALYZE_MAX_SECONDS;
	struct decode_opts dopt = { .max_seconds = max,
				    .timeout_s = o->timeout_s,
				    .cancel = o->cancel };
	d = decode_open(path, &dopt, err, err_size);
	if (!d)
		return false;
	while ((n = decode_read(d, a->block, BLOCK)) > 0) {
		excerpt = decode_excerpt(d);
		if (!feed(a, a->block, n, excerpt))
			goto oom;
	}
	if (n < 0) {
		snprintf(err, err_size, "%s", decode_error(d));
		goto fail;
	}
	/* A stream that decoded but yielded no sample after resampling (a
	 * single sample, say) is silence: it gets the vector of silence. */
	if (a->fill > 0) {
		int real = a->fill;
		memset(a->buf + a->base + TONAL_WIN + real, 0,
		       (size_t)(HOP - real) * sizeof *a->buf);
		a->base += HOP;
		a->fill = 0;
		if (!frame(a, real, excerpt))
			goto oom;
	}

	loudness_result(a->loudness, out);
	spectral_result(a->spectral, out);
	rhythm_result(a->rhythm, out);
	tonal_result(a->tonal, out);
	a->seconds = (double)decode_delivered(d) / DECODE_RATE;
	*duration = decode_duration(d);
	if (!(*duration > 0))
		*duration = (double)decode_delivered(d) / DECODE_RATE;
	out[FEAT_DURATION] = (float)*duration;
	for (int i = 0; i < nf; i++)
		if (!isfinite(out[i]))
			out[i] = 0;
	decode_close(d);
	return true;

oom:
	snprintf(err, err_size, "out of memory");
fail:
	decode_close(d);
	memset(out, 0, (size_t)nf * sizeof *out);
	return false;
}

double analyze_seconds(const struct analyze *a)
{
	return a->seconds;
}

bool analyze_file(const char *path, const struct analyze_opts *o, float *out,
		  double *duration, char *err, size_t err_size)
{
	struct analyze *a = analyze_new(err, err_size);
	if (!a) {
		memset(out, 0, (size_t)features_count() * sizeof *out);
		*duration = 0;
		return false;
	}
	bool ok = analyze_run(a, path, o, out, duration, err, err_size);
	analyze_free(a);
	return ok;
}
