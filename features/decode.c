#include "features/decode.h"
#include "features/vectorize.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "features/resample.h"

/* Corrupt packets are skipped, as players do, until they outnumber the good
 * ones by this much: then the file is "not audio". */
#define DECODE_BAD_PACKETS 50

/* Bytes read from the file without a packet of audio coming out, before
 * the file is given up (or, after some audio, taken as ending there).
 * FFmpeg's MPEG audio parser keeps every byte it cannot sync on: a
 * zero-filled or preallocated .mp3 of 2 GB took 2.1 GB of memory in one
 * call. probesize does not bound it (the parser runs below the probe);
 * this does, at about twice the figure. Probing reads at most 5 MB
 * (probesize) before the first packet comes out. */
#define DECODE_BARREN_BYTES (8 << 20)

/* Above this a sample rate is a broken header, not audio: four times the
 * highest rate in use (DXD's 352.8 and 384 kHz). */
#define DECODE_MAX_RATE 1536000

struct decode {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	int stream;
	double time_base;	/* seconds per stream tick */
	double start_time;	/* stream's first timestamp, seconds */
	double deadline;	/* CLOCK_MONOTONIC seconds; 0: none */
	const atomic_int *cancel;
	double timeout_s;
	double duration;	/* container, seconds; 0 unknown */

	/* Conversion to mono float at `rate`: the frames' parameters it was
	 * built for (rebuilt when a frame differs), a libswresample downmix
	 * for more than two channels, the rate reduction after it. */
	bool native;		/* no conversion: count the file's samples */
	int rate;		/* of what decode_read() delivers */
	int in_format;
	int in_rate;
	AVChannelLayout in_layout;
	SwrContext *downmix;
	struct resample *resample;
	float *mono;		/* scratch: a frame's channels, or its
				 * downmix */
	int mono_cap;
	bool loud;		/* a sample over DECODE_MAX_LEVEL / 4 came */

	/* Bytes the file had given when the last packet came out. */
	int64_t read_mark;
	bool barren;		/* stopped: DECODE_BARREN_BYTES without audio */

	/* Excerpt plan: n excerpts of len samples each (len < 0: no limit). */
	int n_excerpts;
	int excerpt;
	long long excerpt_len;
	double excerpt_seconds;
	double max_seconds;
	long long excerpt_done;
	double seek_target;	/* seconds; < 0: no seek pending skip */
	long long skip;		/* output samples still to drop */

	/* Resampled samples not yet handed out. */
	float *out;
	int out_cap;
	int out_len;
	int out_pos;

	bool demux_eof;		/* flush packet sent */
	bool dec_eof;		/* decoder and resampler drained */
	bool failed;
	bool done;
	bool replanned;		/* fell back to reading from the start */
	long long delivered;
	int good_packets;
	int bad_packets;
	char err[256];
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* features/ never prints: FFmpeg's own log would go to stderr. */
static void quiet_ffmpeg(void)
{
	av_log_set_level(AV_LOG_QUIET);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool past_deadline(const struct decode *d)
{
	return d->deadline > 0 && now_s() > d->deadline;
}

static bool cancelled(const struct decode *d)
{
	return d->cancel && atomic_load(d->cancel);
}

/* Bytes the file has given so far. */
static int64_t bytes_read(const struct decode *d)
{
	return d->fmt && d->fmt->pb ? d->fmt->pb->bytes_read : 0;
}

/* libavformat's AVIOInterruptCB, asked before every read from the file: a
 * blocked or slow read gives up once the deadline has passed or the caller
 * cancelled, and reading stops when DECODE_BARREN_BYTES went by without a
 * packet of audio. */
static int interrupt_cb(void *opaque)
{
	struct decode *d = opaque;
	if (bytes_read(d) - d->read_mark > DECODE_BARREN_BYTES)
		d->barren = true;
	return d->barren || past_deadline(d) || cancelled(d) ? 1 : 0;
}

/* Formats "what: FFmpeg's text" into d->err and marks the decoder failed. */
static void fail_av(struct decode *d, const char *what, int averr)
{
	char text[AV_ERROR_MAX_STRING_SIZE] = "";
	if (averr == AVERROR_EXIT && cancelled(d)) {
		snprintf(d->err, sizeof d->err, "%s: cancelled", what);
	} else if (averr == AVERROR_EXIT && past_deadline(d)) {
		snprintf(d->err, sizeof d->err, "%s: timed out after %g s",
			 what, d->timeout_s);
	} else if (averr == AVERROR_EXIT && d->barren) {
		snprintf(d->err, sizeof d->err, "%s: no audio in %d MB (a "
			 "zero-filled or partly downloaded file?)", what,
			 DECODE_BARREN_BYTES >> 20);
	} else {
		av_strerror(averr, text, sizeof text);
		snprintf(d->err, sizeof d->err, "%s: %s", what, text);
	}
	d->failed = true;
	d->done = true;
}

static void fail_text(struct decode *d, const char *text)
{
	snprintf(d->err, sizeof d->err, "%s", text);
	d->failed = true;
	d->done = true;
}

/* Plans the excerpts: the whole file when it fits in max_seconds, else
 * n = ceil(max / DECODE_EXCERPT_SECONDS) excerpts of max / n seconds, centred
 * in n equal parts of the file. Unknown duration: the first max_seconds. */
static void plan_excerpts(struct decode *d, double max_seconds)
{
	d->n_excerpts = 1;
	d->excerpt_len = -1;
	d->excerpt_seconds = 0;
	d->max_seconds = max_seconds;
	if (max_seconds <= 0)
		return;
	if (d->duration <= max_seconds + 1.0) {
		d->excerpt_len = (long long)(max_seconds * d->rate);
		return;
	}
	int n = (int)ceil(max_seconds / DECODE_EXCERPT_SECONDS);
	d->n_excerpts = n < 1 ? 1 : n;
	d->excerpt_seconds = max_seconds / d->n_excerpts;
	d->excerpt_len = (long long)(d->excerpt_seconds * d->rate);
}

static double excerpt_start(const struct decode *d, int i)
{
	if (d->n_excerpts <= 1)
		return 0;
	double part = d->duration / d->n_excerpts;
	double t = (i + 0.5) * part - d->excerpt_seconds / 2;
	return t < 0 ? 0 : t;
}

/* Moves to the start of excerpt d->excerpt: seek, drop what the decoder and
 * the resampler still hold, and drop decoded audio before the target. When
 * the format cannot seek, the audio simply continues from where it is. */
static void seek_excerpt(struct decode *d)
{
	double t = excerpt_start(d, d->excerpt);
	int64_t ts = (int64_t)((d->start_time + t) / d->time_base);
	d->excerpt_done = 0;
	d->out_len = d->out_pos = 0;
	d->skip = 0;
	if (av_seek_frame(d->fmt, d->stream, ts, AVSEEK_FLAG_BACKWARD) < 0) {
		d->seek_target = -1;
		return;
	}
	avcodec_flush_buffers(d->dec);
	if (d->resample)
		resample_reset(d->resample);
	d->read_mark = bytes_read(d);
	d->barren = false;
	d->demux_eof = false;
	d->dec_eof = false;
	d->seek_target = t;
}

static void replan_from_start(struct decode *d)
{
	d->replanned = true;
	d->n_excerpts = 1;
	d->excerpt = 0;
	d->excerpt_len = (long long)(d->max_seconds * d->rate);
	d->duration = 0;	/* it was wrong */
	d->excerpt_seconds = 0;
	seek_excerpt(d);	/* excerpt 0 of 1 starts at 0 */
}

/* Rebuilds the conversion for frames like f: a downmix through
 * libswresample when there are more than two channels (FFmpeg's matrix for
 * the layout), and the rate reduction from f's rate to DECODE_RATE. */
static bool build_conversion(struct decode *d, const AVFrame *f)
{
	AVChannelLayout in = { 0 };
	AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
	char text[200];
	int ret = 0;

	swr_free(&d->downmix);
	resample_free(d->resample);
	d->resample = NULL;
	av_channel_layout_uninit(&d->in_layout);
	if (f->ch_layout.nb_channels <= 0 || f->sample_rate <= 0) {
		fail_text(d, "decoder returned audio without channels or rate");
		return false;
	}
	if (f->sample_rate > DECODE_MAX_RATE) {
		snprintf(text, sizeof text, "a sample rate of %d Hz is not "
			 "audio", f->sample_rate);
		fail_text(d, text);
		return false;
	}
	if ((ret = av_channel_layout_copy(&d->in_layout, &f->ch_layout)) < 0)
		goto fail;
	d->in_format = f->format;
	d->in_rate = f->sample_rate;
	if (f->ch_layout.nb_channels > 2) {
		if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
			av_channel_layout_default(&in, f->ch_layout.nb_channels);
		else if ((ret = av_channel_layout_copy(&in, &f->ch_layout)) < 0)
			goto fail;
		ret = swr_alloc_set_opts2(&d->downmix, &mono, AV_SAMPLE_FMT_FLT,
					  f->sample_rate, &in, f->format,
					  f->sample_rate, 0, NULL);
		if (ret >= 0)
			ret = swr_init(d->downmix);
		av_channel_layout_uninit(&in);
		if (ret < 0)
			goto fail;
	}
	d->resample = resample_new(f->sample_rate, DECODE_RATE, text,
				   sizeof text);
	if (!d->resample) {
		fail_text(d, text);
		return false;
	}
	return true;
fail:
	av_channel_layout_uninit(&in);
	fail_av(d, "resampler", ret);
	return false;
}

/* Makes room for n more samples in d->out (keeping the unread ones). */
static bool reserve_out(struct decode *d, long n)
{
	if (d->out_pos > 0) {
		memmove(d->out, d->out + d->out_pos,
			(size_t)(d->out_len - d->out_pos) * sizeof *d->out);
		d->out_len -= d->out_pos;
		d->out_pos = 0;
	}
	if (d->out_len + n <= d->out_cap)
		return true;
	long cap = d->out_len + n + 4096;
	float *p = cap < INT_MAX ? realloc(d->out, (size_t)cap * sizeof *p)
				 : NULL;
	if (!p) {
		fail_text(d, "out of memory");
		return false;
	}
	d->out = p;
	d->out_cap = (int)cap;
	return true;
}

/* Float PCM carries whatever the file holds: NaN, infinities, absurd
 * levels. Nothing but sane numbers goes on: NaN and infinities become 0
 * (a spike of full level would ring through the filters), other numbers
 * are clamped to +-DECODE_MAX_LEVEL. */
static float sane(float x)
{
	if (x >= -DECODE_MAX_LEVEL && x <= DECODE_MAX_LEVEL)
		return x;
	if (!isfinite(x))
		return 0.0f;
	return x > 0 ? DECODE_MAX_LEVEL : -DECODE_MAX_LEVEL;
}

/* Loops over blocks of a fixed count compile to vector code at -O2. */
#define BLOCK 64

/* Whether BLOCK floats are all within +-level: their magnitude bits,
 * compared as integers (NaN and infinity compare above any number), so
 * that the loop has no branch. */
static bool block_within(const float *x, float level)
{
	uint32_t max_bits, bad = 0;
	memcpy(&max_bits, &level, sizeof max_bits);
	for (int j = 0; j < BLOCK; j++) {
		uint32_t u;
		memcpy(&u, &x[j], sizeof u);
		bad |= (u & 0x7fffffffu) > max_bits;
	}
	return !bad;
}

/* Makes x (n) sane. Returns whether any sample was louder than
 * DECODE_MAX_LEVEL / 4: only then can the filters after it (gain well
 * below 4) overshoot the level. Real audio stays far below. */
static bool sanitize(float *x, long n)
{
	const float quarter = DECODE_MAX_LEVEL / 4;
	bool loud = false;
	long i = 0;
	for (; i + BLOCK <= n; i += BLOCK)
		if (!block_within(x + i, quarter)) {
			loud = true;
			for (int j = 0; j < BLOCK; j++)
				x[i + j] = sane(x[i + j]);
		}
	for (; i < n; i++) {
		loud |= !(fabsf(x[i]) <= quarter);
		x[i] = sane(x[i]);
	}
	return loud;
}

/* 16- and 32-bit samples as floats (load_channel() and mix_packed()). */
#define S16_F(x) ((float)(x) * (1.0f / 32768))
#define S32_F(x) ((float)((double)(x) * (1.0 / 2147483648.0)))

/* Channel c of frame f (n samples), as floats, into y. */
static void load_channel(const AVFrame *f, int c, float *restrict y)
{
	int n = f->nb_samples, ch = f->ch_layout.nb_channels;
	bool planar = av_sample_fmt_is_planar(f->format);
	const void *p = f->extended_data[planar ? c : 0];
	size_t step = planar ? 1 : (size_t)ch, at = planar ? 0 : (size_t)c;
/* Planar samples in blocks of BLOCK, which the compiler vectorises. */
#define LOAD(type, expr)                                                      \
	do {                                                                  \
		const type *q = (const type *)p + at;                          \
		int i = 0;                                                    \
		if (step == 1)                                                \
			for (; i + BLOCK <= n; i += BLOCK)                     \
				for (int j = 0; j < BLOCK; j++) {             \
					type x = q[i + j];                     \
					y[i + j] = (expr);                     \
				}                                             \
		for (; i < n; i++) {                                          \
			type x = q[(size_t)i * step];                          \
			y[i] = (expr);                                        \
		}                                                             \
	} while (0)
	switch (av_get_packed_sample_fmt(f->format)) {
	case AV_SAMPLE_FMT_U8:
		LOAD(uint8_t, (float)((int)x - 128) * (1.0f / 128));
		break;
	case AV_SAMPLE_FMT_S16:
		LOAD(int16_t, S16_F(x));
		break;
	case AV_SAMPLE_FMT_S32:
		LOAD(int32_t, S32_F(x));
		break;
	case AV_SAMPLE_FMT_S64:
		LOAD(int64_t, (float)((double)x * (1.0 / 9223372036854775808.0)));
		break;
	case AV_SAMPLE_FMT_FLT:
		LOAD(float, x);
		break;
	case AV_SAMPLE_FMT_DBL:
		LOAD(double, (float)x);
		break;
	default:
		memset(y, 0, (size_t)n * sizeof *y);
	}
#undef LOAD
}

static bool mix_stereo(float *restrict y, const float *restrict l,
		       const float *restrict r, int n)
{
	const float g = (float)M_SQRT1_2;
	int i = 0;
	for (; i + BLOCK <= n; i += BLOCK)
		for (int j = 0; j < BLOCK; j++)
			y[i + j] = (l[i + j] + r[i + j]) * g;
	for (; i < n; i++)
		y[i] = (l[i] + r[i]) * g;
	return sanitize(y, n);
}

/* Packed 16- or 32-bit stereo (what FLAC, WAV and ALAC decode to): both
 * channels read and mixed in one pass, with the operations of
 * load_channel() and mix_stereo(), so the result is the same to the bit. */
#define MIX_PACKED(type, expr)                                                \
	do {                                                                  \
		const type *q = (const type *)f->extended_data[0];             \
		int i = 0;                                                    \
		for (; i + BLOCK <= n; i += BLOCK)                             \
			for (int j = 0; j < BLOCK; j++) {                     \
				float l = expr(q[2 * (i + j)]);                \
				float r = expr(q[2 * (i + j) + 1]);            \
				y[i + j] = (l + r) * g;                        \
			}                                                     \
		for (; i < n; i++) {                                          \
			float l = expr(q[2 * i]), r = expr(q[2 * i + 1]);      \
			y[i] = (l + r) * g;                                   \
		}                                                             \
	} while (0)
static bool mix_packed(const AVFrame *f, float *restrict y)
{
	const float g = (float)M_SQRT1_2;
	int n = f->nb_samples;
	if (f->format == AV_SAMPLE_FMT_S16)
		MIX_PACKED(int16_t, S16_F);
	else
		MIX_PACKED(int32_t, S32_F);
	return sanitize(y, n);
}
#undef MIX_PACKED

/* Makes d->mono hold n floats per channel for `channels` channels. */
static bool reserve_mono(struct decode *d, int n, int channels)
{
	if ((long)n * channels <= d->mono_cap)
		return true;
	size_t cap = (size_t)n * (size_t)channels;
	float *p = realloc(d->mono, cap * sizeof *p);
	if (!p) {
		fail_text(d, "out of memory");
		return false;
	}
	d->mono = p;
	d->mono_cap = (int)cap;
	return true;
}

/* Mixes one or two channels of f down to y: mono as it is, (L + R) /
 * sqrt(2) of stereo (libswresample's matrix); sane values only. Planar
 * float, what most decoders give, is read in place; other formats through
 * d->mono. Returns what sanitize() says, or -1 when out of memory. */
static int mix(struct decode *d, const AVFrame *f, float *y)
{
	int ch = f->ch_layout.nb_channels, n = f->nb_samples;
	if (f->format == AV_SAMPLE_FMT_FLTP) {
		const float *l = (const float *)f->extended_data[0];
		if (ch > 1)
			return mix_stereo(y, l,
					  (const float *)f->extended_data[1],
					  n);
		memcpy(y, l, (size_t)n * sizeof *y);
		return sanitize(y, n);
	}
	if (ch == 1) {
		load_channel(f, 0, y);
		return sanitize(y, n);
	}
	if (f->format == AV_SAMPLE_FMT_S16 || f->format == AV_SAMPLE_FMT_S32)
		return mix_packed(f, y);
	if (!reserve_mono(d, n, 2))
		return -1;
	float *l = d->mono, *r = d->mono + n;
	load_channel(f, 0, l);
	load_channel(f, 1, r);
	return mix_stereo(y, l, r, n);
}

/* More than two channels: libswresample's downmix into d->mono. Returns
 * the samples, or -1 on failure. */
static long downmix(struct decode *d, const AVFrame *f)
{
	if (!reserve_mono(d, f->nb_samples, 1))
		return -1;
	uint8_t *dst = (uint8_t *)d->mono;
	int got = swr_convert(d->downmix, &dst, d->mono_cap,
			      (const uint8_t **)f->extended_data,
			      f->nb_samples);
	if (got < 0) {
		fail_av(d, "resampler", got);
		return -1;
	}
	d->loud |= sanitize(d->mono, got);
	return got;
}

/* Frame f to mono at its own rate and on through the rate reduction into
 * o (room for `room`); NULL drains the filters. Mono and stereo are mixed
 * straight into the resampler's input. Returns the samples written, or
 * -1 on failure. */
static long reduce(struct decode *d, const AVFrame *f, float *o, long room)
{
	if (!f)
		return resample_flush(d->resample, o, room);
	if (d->downmix) {
		long n = downmix(d, f);
		return n < 0 ? -1 : resample_do(d->resample, d->mono, n, o, room);
	}
	float *in = resample_input(d->resample, f->nb_samples);
	int loud = in ? mix(d, f, in) : -1;
	if (loud < 0) {
		fail_text(d, "out of memory");
		return -1;
	}
	d->loud |= loud;
	return resample_push(d->resample, f->nb_samples, o, room);
}

/* Converts frame f (NULL: drain the filters) into d->out. In native mode
 * the samples are only counted. Returns the samples added, or -1. */
static long convert(struct decode *d, const AVFrame *f)
{
	if (d->native) {
		long n = f ? f->nb_samples : 0;
		if (d->out_pos == d->out_len)
			d->out_pos = d->out_len = 0;
		d->out_len += (int)n;	/* counted, never read */
		return n;
	}
	if (f && (!d->resample || f->format != d->in_format ||
		  f->sample_rate != d->in_rate ||
		  av_channel_layout_compare(&f->ch_layout, &d->in_layout)))
		if (!build_conversion(d, f))
			return -1;
	if (!d->resample)
		return 0;
	long room = resample_room(d->resample, f ? f->nb_samples : 0);
	if (!reserve_out(d, room))
		return -1;
	float *o = d->out + d->out_len;
	long got = reduce(d, f, o, room);
	if (got < 0) {
		if (!d->failed)
			fail_text(d, "resampler failed");
		return -1;
	}
	/* Once a file had a sample louder than a quarter of the level,
	 * what the filters make of it is clamped too. */
	if (d->loud)
		sanitize(o, got);
	d->out_len += (int)got;
	return got;
}

/* After a seek the decoder starts at a packet boundary before the target:
 * the first frame's timestamp says how much to drop. */
static void compute_skip(struct decode *d, const AVFrame *f)
{
	if (d->seek_target < 0)
		return;
	int64_t pts = f->best_effort_timestamp;
	if (pts != AV_NOPTS_VALUE) {
		double t = (double)pts * d->time_base - d->start_time;
		if (t < d->seek_target)
			d->skip = (long long)((d->seek_target - t) *
					       d->rate);
	}
	d->seek_target = -1;
}

/* The end of the packets: a read failed or the file ended. Sends the
 * decoder its flush packet. Returns false when that is a failure. */
static bool end_of_packets(struct decode *d, int ret)
{
	/* No audio for DECODE_BARREN_BYTES: the end of what a partly
	 * written file holds (an excerpt planned beyond it reads from the
	 * start again). */
	bool barren = ret == AVERROR_EXIT && d->barren;
	if (ret == AVERROR_EXIT && !barren) {
		fail_av(d, "reading", ret);
		return false;
	}
	/* End of file, or a read error in a truncated or damaged file:
	 * decode what came before it. */
	if (ret != AVERROR_EOF && !barren && d->good_packets == 0) {
		fail_av(d, "reading", ret);
		return false;
	}
	d->demux_eof = true;
	ret = avcodec_send_packet(d->dec, NULL);
	if (ret < 0 && ret != AVERROR_EOF) {
		fail_av(d, "decoding", ret);
		return false;
	}
	return true;
}

/* A decoder error on one packet or frame: skipped, as players do, unless
 * the stream is mostly errors. Returns false then. */
static bool tolerate(struct decode *d, int ret)
{
	if (++d->bad_packets > DECODE_BAD_PACKETS + d->good_packets) {
		fail_av(d, "decoding", ret);
		return false;
	}
	return true;
}

/* Reads the next packet of the stream and sends it to the decoder.
 * Returns false on failure. */
static bool feed_decoder(struct decode *d)
{
	int ret = av_read_frame(d->fmt, d->pkt);
	if (ret < 0)
		return end_of_packets(d, ret);
	d->read_mark = bytes_read(d);
	if (d->pkt->stream_index != d->stream) {
		av_packet_unref(d->pkt);
		return true;
	}
	ret = avcodec_send_packet(d->dec, d->pkt);
	av_packet_unref(d->pkt);
	if (ret < 0 && ret != AVERROR(EAGAIN))
		return tolerate(d, ret);
	d->good_packets++;
	return true;
}

/* Decodes until some samples are in d->out. Returns 1 when there are, 0 at
 * the end of the stream, -1 on failure. */
static int fill(struct decode *d)
{
	for (;;) {
		if (past_deadline(d) || cancelled(d)) {
			fail_av(d, "decoding", AVERROR_EXIT);
			return -1;
		}
		if (d->dec_eof)
			return 0;
		int ret = avcodec_receive_frame(d->dec, d->frame);
		if (ret == 0) {
			compute_skip(d, d->frame);
			long got = convert(d, d->frame);
			av_frame_unref(d->frame);
			if (got < 0)
				return -1;
			if (got > 0)
				return 1;
		} else if (ret == AVERROR_EOF) {
			long got = convert(d, NULL);
			d->dec_eof = true;
			if (got < 0)
				return -1;
			return got > 0 ? 1 : 0;
		} else if (ret != AVERROR(EAGAIN)) {
			if (!tolerate(d, ret))
				return -1;
		} else if (d->demux_eof) {
			/* The decoder wants input after the flush packet:
			 * cannot happen with a sane decoder; end here. */
			d->dec_eof = true;
			return 0;
		} else if (!feed_decoder(d)) {
			return -1;
		}
	}
}

/* FFmpeg would block forever opening a FIFO, and reads a directory as an
 * error only after trying: refuse both, and empty files, before opening. */
static bool check_path(const char *path, char *err, size_t err_size)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, err_size, "%s", strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "not a regular file (%s)",
			 S_ISDIR(st.st_mode)    ? "a directory"
			 : S_ISFIFO(st.st_mode) ? "a FIFO"
			 : S_ISSOCK(st.st_mode) ? "a socket"
						: "a device");
		return false;
	}
	if (st.st_size == 0) {
		snprintf(err, err_size, "empty file (0 bytes)");
		return false;
	}
	return true;
}

static struct decode *alloc_decode(const struct decode_opts *o, bool native)
{
	struct decode *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->native = native;
	d->stream = -1;
	d->seek_target = -1;
	d->timeout_s = o->timeout_s;
	d->cancel = o->cancel;
	if (o->timeout_s > 0)
		d->deadline = now_s() + o->timeout_s;
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	d->fmt = avformat_alloc_context();
	if (!d->pkt || !d->frame || !d->fmt) {
		decode_close(d);
		return NULL;
	}
	d->fmt->interrupt_callback.callback = interrupt_cb;
	d->fmt->interrupt_callback.opaque = d;
	return d;
}

/* Says in d->err why probing stopped early (cancelled, deadline, no audio
 * in DECODE_BARREN_BYTES); false when it did not. */
static bool stopped_early(struct decode *d, const char *what)
{
	if (!cancelled(d) && !past_deadline(d) && !d->barren)
		return false;
	fail_av(d, what, AVERROR_EXIT);
	return true;
}

/* Opens the container and reads its stream information. */
static bool open_input(struct decode *d, const char *path)
{
	AVDictionary *opts = NULL;
	size_t url_size = strlen(path) + sizeof "file:";
	char *url = malloc(url_size);
	int ret = AVERROR(ENOMEM);
	if (!url)
		goto fail;
	snprintf(url, url_size, "file:%s", path);
	/* A playlist-like format must not reach for URLs or other files. */
	if ((ret = av_dict_set(&opts, "protocol_whitelist", "file", 0)) < 0)
		goto fail;
	ret = avformat_open_input(&d->fmt, url, NULL, &opts);
	if (ret < 0)
		goto fail;	/* d->fmt is freed and NULL */
	/* The budget of barren bytes starts after the header: an ID3 tag
	 * may hold a large picture. */
	d->read_mark = bytes_read(d);
	av_dict_free(&opts);
	free(url);
	if ((ret = avformat_find_stream_info(d->fmt, NULL)) < 0) {
		fail_av(d, "reading stream info", ret);
		return false;
	}
	return true;
fail:
	av_dict_free(&opts);
	free(url);
	if (!stopped_early(d, "not readable as audio"))
		fail_av(d, "not readable as audio", ret);
	return false;
}

/* Picks the audio stream, discards the others, and reads its timing. */
static bool open_stream(struct decode *d, const AVCodec **codec)
{
	int ret = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1,
				      codec, 0);
	if (ret < 0 && stopped_early(d, "finding audio"))
		return false;
	if (ret == AVERROR_STREAM_NOT_FOUND) {
		fail_text(d, "no audio stream");
		return false;
	}
	if (ret == AVERROR_DECODER_NOT_FOUND) {
		fail_text(d, "no decoder for the audio");
		return false;
	}
	if (ret < 0) {
		fail_av(d, "finding audio", ret);
		return false;
	}
	d->stream = ret;
	AVStream *s = d->fmt->streams[d->stream];
	for (unsigned i = 0; i < d->fmt->nb_streams; i++)
		if ((int)i != d->stream)
			d->fmt->streams[i]->discard = AVDISCARD_ALL;
	if (s->codecpar->ch_layout.nb_channels <= 0 ||
	    s->codecpar->sample_rate <= 0) {
		if (!stopped_early(d, "finding audio"))
			fail_text(d, "audio stream without channels or "
				     "sample rate");
		return false;
	}
	d->time_base = av_q2d(s->time_base);
	if (!(d->time_base > 0))
		d->time_base = 1.0 / s->codecpar->sample_rate;
	d->start_time = s->start_time != AV_NOPTS_VALUE
				? (double)s->start_time * d->time_base
				: 0;
	if (d->fmt->duration != AV_NOPTS_VALUE && d->fmt->duration > 0)
		d->duration = (double)d->fmt->duration / AV_TIME_BASE;
	else if (s->duration != AV_NOPTS_VALUE && s->duration > 0)
		d->duration = (double)s->duration * d->time_base;
	d->rate = d->native ? s->codecpar->sample_rate : DECODE_RATE;
	return true;
}

static bool open_decoder(struct decode *d, const AVCodec *codec)
{
	const AVStream *s = d->fmt->streams[d->stream];
	int ret = AVERROR(ENOMEM);
	d->dec = avcodec_alloc_context3(codec);
	if (!d->dec ||
	    (ret = avcodec_parameters_to_context(d->dec, s->codecpar)) < 0)
		goto fail;
	d->dec->pkt_timebase = s->time_base;
	/* Parallelism is one file per worker thread. */
	d->dec->thread_count = 1;
	if ((ret = avcodec_open2(d->dec, codec, NULL)) < 0)
		goto fail;
	return true;
fail:
	fail_av(d, "opening the decoder", ret);
	return false;
}

/* decode_open(), and in native mode decoding without conversion. */
static struct decode *open_mode(const char *path, const struct decode_opts *o,
				bool native, char *err, size_t err_size)
{
	const AVCodec *codec = NULL;
	if (!path || !o) {
		snprintf(err, err_size, "no file given");
		return NULL;
	}
	pthread_once(&quiet_once, quiet_ffmpeg);
	if (!check_path(path, err, err_size))
		return NULL;
	struct decode *d = alloc_decode(o, native);
	if (!d) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	if (!open_input(d, path) || !open_stream(d, &codec) ||
	    !open_decoder(d, codec)) {
		snprintf(err, err_size, "%s", d->err);
		decode_close(d);
		return NULL;
	}
	plan_excerpts(d, o->max_seconds);
	if (d->n_excerpts > 1)
		seek_excerpt(d);
	return d;
}

struct decode *decode_open(const char *path, const struct decode_opts *o,
			   char *err, size_t err_size)
{
	return open_mode(path, o, false, err, err_size);
}

/* decode_read(); buf NULL (native mode) consumes without copying. */
static long read_some(struct decode *d, float *buf, size_t n)
{
	for (;;) {
		if (!d->done && cancelled(d))
			fail_av(d, "decoding", AVERROR_EXIT);
		if (d->done)
			return d->failed ? -1 : 0;
		if (d->excerpt_len >= 0 && d->excerpt_done >= d->excerpt_len) {
			if (d->excerpt + 1 >= d->n_excerpts) {
				d->done = true;
				continue;
			}
			d->excerpt++;
			seek_excerpt(d);
			continue;
		}
		if (d->out_pos < d->out_len) {
			long long avail = d->out_len - d->out_pos;
			if (d->skip > 0) {
				long long k = d->skip < avail ? d->skip : avail;
				d->out_pos += (int)k;
				d->skip -= k;
				continue;
			}
			long long k = (long long)n < avail ? (long long)n
							    : avail;
			if (d->excerpt_len >= 0 &&
			    d->excerpt_len - d->excerpt_done < k)
				k = d->excerpt_len - d->excerpt_done;
			if (buf)
				memcpy(buf, d->out + d->out_pos,
				       (size_t)k * sizeof *buf);
			d->out_pos += (int)k;
			d->excerpt_done += k;
			d->delivered += k;
			return (long)k;
		}
		int r = fill(d);
		if (r < 0)
			return -1;
		if (r == 0) {
			/* The end of the stream: later excerpts lie further
			 * on, so this is the end whether the file was shorter
			 * than its container said (truncated) or not. */
			if (d->delivered == 0 && d->n_excerpts > 1 &&
			    !d->replanned) {
				/* The container promised more than the file
				 * holds (a truncated file): the excerpts lie
				 * beyond its end. Read what there is. */
				replan_from_start(d);
				continue;
			}
			if (d->good_packets == 0 && d->delivered == 0) {
				if (d->barren)
					fail_av(d, "reading", AVERROR_EXIT);
				else
					fail_text(d, "no audio could be "
						     "decoded");
				return -1;
			}
			d->done = true;
		}
	}
}

long decode_read(struct decode *d, float *buf, size_t n)
{
	assert(!d->native && buf);
	return read_some(d, buf, n);
}

int decode_excerpt(const struct decode *d)
{
	return d->excerpt;
}

int decode_excerpts(const struct decode *d)
{
	return d->n_excerpts;
}

double decode_duration(const struct decode *d)
{
	return d->duration;
}

long long decode_delivered(const struct decode *d)
{
	return d->delivered;
}

const char *decode_error(const struct decode *d)
{
	return d->err[0] ? d->err : "no error";
}

void decode_close(struct decode *d)
{
	if (!d)
		return;
	swr_free(&d->downmix);
	resample_free(d->resample);
	av_channel_layout_uninit(&d->in_layout);
	avcodec_free_context(&d->dec);
	avformat_close_input(&d->fmt);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d->mono);
	free(d->out);
	free(d);
}

bool decode_file(const char *path, const struct decode_opts *o, bool convert,
		 double *seconds, double *duration, char *err, size_t err_size)
{
	float buf[4096];
	long n;
	struct decode *d = open_mode(path, o, !convert, err, err_size);
	*seconds = 0;
	*duration = 0;
	if (!d)
		return false;
	while ((n = read_some(d, convert ? buf : NULL,
			      sizeof buf / sizeof *buf)) > 0)
		;
	bool ok = n == 0;
	if (!ok)
		snprintf(err, err_size, "%s", decode_error(d));
	*seconds = (double)d->delivered / d->rate;
	*duration = d->duration > 0 ? d->duration : *seconds;
	decode_close(d);
	return ok;
}
