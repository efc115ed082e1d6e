#include "features/decode.h"

#include <errno.h>
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

/* Corrupt packets are skipped, as players do, until they outnumber the good
 * ones by this much: then the file is "not audio". */
#define DECODE_BAD_PACKETS 50

struct decode {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	SwrContext *swr;
	AVPacket *pkt;
	AVFrame *frame;
	int stream;
	double time_base;	/* seconds per stream tick */
	double start_time;	/* stream's first timestamp, seconds */
	double deadline;	/* CLOCK_MONOTONIC seconds; 0: none */
	const atomic_int *cancel;
	double timeout_s;
	double duration;	/* container, seconds; 0 unknown */

	/* The parameters swr was built for; rebuilt when a frame differs. */
	int in_format;
	int in_rate;
	AVChannelLayout in_layout;

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

/* libavformat's AVIOInterruptCB: a blocked or slow read gives up once the
 * deadline has passed or the caller cancelled. */
static int interrupt_cb(void *opaque)
{
	return past_deadline(opaque) || cancelled(opaque) ? 1 : 0;
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
		d->excerpt_len = (long long)(max_seconds * DECODE_RATE);
		return;
	}
	int n = (int)ceil(max_seconds / DECODE_EXCERPT_SECONDS);
	d->n_excerpts = n < 1 ? 1 : n;
	d->excerpt_seconds = max_seconds / d->n_excerpts;
	d->excerpt_len = (long long)(d->excerpt_seconds * DECODE_RATE);
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
	swr_free(&d->swr);
	d->demux_eof = false;
	d->dec_eof = false;
	d->seek_target = t;
}

static void replan_from_start(struct decode *d)
{
	d->replanned = true;
	d->n_excerpts = 1;
	d->excerpt = 0;
	d->excerpt_len = (long long)(d->max_seconds * DECODE_RATE);
	d->duration = 0;	/* it was wrong */
	d->excerpt_seconds = 0;
	seek_excerpt(d);	/* excerpt 0 of 1 starts at 0 */
}

static bool build_swr(struct decode *d, const AVFrame *f)
{
	AVChannelLayout in = { 0 };
	AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
	int ret;

	swr_free(&d->swr);
	av_channel_layout_uninit(&d->in_layout);
	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC ||
	    f->ch_layout.nb_channels <= 0)
		av_channel_layout_default(&in, f->ch_layout.nb_channels);
	else if ((ret = av_channel_layout_copy(&in, &f->ch_layout)) < 0)
		goto fail;
	if (in.nb_channels <= 0 || f->sample_rate <= 0) {
		fail_text(d, "decoder returned audio without channels or rate");
		return false;
	}
	ret = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT,
				  DECODE_RATE, &in, f->format, f->sample_rate,
				  0, NULL);
	if (ret < 0)
		goto fail;
	if ((ret = swr_init(d->swr)) < 0)
		goto fail;
	if ((ret = av_channel_layout_copy(&d->in_layout, &f->ch_layout)) < 0)
		goto fail;
	d->in_format = f->format;
	d->in_rate = f->sample_rate;
	av_channel_layout_uninit(&in);
	return true;
fail:
	av_channel_layout_uninit(&in);
	fail_av(d, "resampler", ret);
	return false;
}

/* Makes room for n more samples in d->out (keeping the unread ones). */
static bool reserve_out(struct decode *d, int n)
{
	if (d->out_pos > 0) {
		memmove(d->out, d->out + d->out_pos,
			(size_t)(d->out_len - d->out_pos) * sizeof *d->out);
		d->out_len -= d->out_pos;
		d->out_pos = 0;
	}
	if (d->out_len + n <= d->out_cap)
		return true;
	int cap = d->out_len + n + 4096;
	float *p = realloc(d->out, (size_t)cap * sizeof *p);
	if (!p) {
		fail_text(d, "out of memory");
		return false;
	}
	d->out = p;
	d->out_cap = cap;
	return true;
}

/* Resamples frame f (NULL: flush the resampler) into d->out. Returns the
 * samples added, or -1 on failure. */
static int convert(struct decode *d, const AVFrame *f)
{
	if (f && (!d->swr || f->format != d->in_format ||
		  f->sample_rate != d->in_rate ||
		  av_channel_layout_compare(&f->ch_layout, &d->in_layout)))
		if (!build_swr(d, f))
			return -1;
	if (!d->swr)
		return 0;
	int n = swr_get_out_samples(d->swr, f ? f->nb_samples : 0);
	if (n < 0) {
		fail_av(d, "resampler", n);
		return -1;
	}
	if (n == 0)
		return 0;
	if (!reserve_out(d, n))
		return -1;
	uint8_t *dst = (uint8_t *)(d->out + d->out_len);
	int got = swr_convert(d->swr, &dst, n,
			      f ? (const uint8_t **)f->extended_data : NULL,
			      f ? f->nb_samples : 0);
	if (got < 0) {
		fail_av(d, "resampler", got);
		return -1;
	}
	/* Float PCM carries whatever the file holds: NaN, infinities,
	 * absurd levels. Nothing but sane numbers goes on. */
	float *o = d->out + d->out_len;
	for (int i = 0; i < got; i++)
		if (!(o[i] >= -DECODE_MAX_LEVEL && o[i] <= DECODE_MAX_LEVEL))
			o[i] = o[i] > 0    ? DECODE_MAX_LEVEL
			       : o[i] < 0 ? -DECODE_MAX_LEVEL
					   : 0.0f;
	d->out_len += got;
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
					       DECODE_RATE);
	}
	d->seek_target = -1;
}

/* Decodes until some samples are in d->out. Returns 1 when there are, 0 at
 * the end of the stream, -1 on failure. */
static int fill(struct decode *d)
{
	int ret;
	for (;;) {
		if (past_deadline(d) || cancelled(d)) {
			fail_av(d, "decoding", AVERROR_EXIT);
			return -1;
		}
		if (d->dec_eof)
			return 0;
		ret = avcodec_receive_frame(d->dec, d->frame);
		if (ret == 0) {
			compute_skip(d, d->frame);
			int got = convert(d, d->frame);
			av_frame_unref(d->frame);
			if (got < 0)
				return -1;
			if (got > 0)
				return 1;
			continue;
		}
		if (ret == AVERROR_EOF) {
			int got = convert(d, NULL);
			d->dec_eof = true;
			if (got < 0)
				return -1;
			return got > 0 ? 1 : 0;
		}
		if (ret != AVERROR(EAGAIN)) {
			/* A decoder error on one frame: skip it, as players
			 * do, unless the stream is mostly errors. */
			if (++d->bad_packets > DECODE_BAD_PACKETS +
						   d->good_packets) {
				fail_av(d, "decoding", ret);
				return -1;
			}
			continue;
		}
		if (d->demux_eof) {
			/* The decoder wants input after the flush packet:
			 * cannot happen with a sane decoder; end here. */
			d->dec_eof = true;
			return 0;
		}
		ret = av_read_frame(d->fmt, d->pkt);
		if (ret < 0) {
			if (ret == AVERROR_EXIT) {
				fail_av(d, "reading", ret);
				return -1;
			}
			/* End of file, or a read error in a truncated or
			 * damaged file: decode what came before it. */
			if (ret != AVERROR_EOF && d->good_packets == 0) {
				fail_av(d, "reading", ret);
				return -1;
			}
			d->demux_eof = true;
			ret = avcodec_send_packet(d->dec, NULL);
			if (ret < 0 && ret != AVERROR_EOF) {
				fail_av(d, "decoding", ret);
				return -1;
			}
			continue;
		}
		if (d->pkt->stream_index != d->stream) {
			av_packet_unref(d->pkt);
			continue;
		}
		ret = avcodec_send_packet(d->dec, d->pkt);
		av_packet_unref(d->pkt);
		if (ret < 0 && ret != AVERROR(EAGAIN)) {
			if (++d->bad_packets > DECODE_BAD_PACKETS +
						   d->good_packets) {
				fail_av(d, "decoding", ret);
				return -1;
			}
		} else {
			d->good_packets++;
		}
	}
}

struct decode *decode_open(const char *path, const struct decode_opts *o,
			   char *err, size_t err_size)
{
	struct decode *d = NULL;
	AVDictionary *opts = NULL;
	char *url = NULL;
	const AVCodec *codec = NULL;
	const char *what = "not readable as audio";
	struct stat st;
	int ret = 0;

	if (!path || !o) {
		snprintf(err, err_size, "no file given");
		return NULL;
	}
	pthread_once(&quiet_once, quiet_ffmpeg);
	/* FFmpeg would block forever opening a FIFO, and reads a directory
	 * as an error only after trying: refuse both before opening. */
	if (stat(path, &st) != 0) {
		snprintf(err, err_size, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "not a regular file (%s)",
			 S_ISDIR(st.st_mode)    ? "a directory"
			 : S_ISFIFO(st.st_mode) ? "a FIFO"
			 : S_ISSOCK(st.st_mode) ? "a socket"
						: "a device");
		return NULL;
	}
	if (st.st_size == 0) {
		snprintf(err, err_size, "empty file (0 bytes)");
		return NULL;
	}

	d = calloc(1, sizeof *d);
	if (!d)
		goto oom;
	d->stream = -1;
	d->seek_target = -1;
	d->timeout_s = o->timeout_s;
	d->cancel = o->cancel;
	if (o->timeout_s > 0)
		d->deadline = now_s() + o->timeout_s;
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	d->fmt = avformat_alloc_context();
	size_t url_size = strlen(path) + sizeof "file:";
	url = malloc(url_size);
	if (!d->pkt || !d->frame || !d->fmt || !url)
		goto oom;
	snprintf(url, url_size, "file:%s", path);
	d->fmt->interrupt_callback.callback = interrupt_cb;
	d->fmt->interrupt_callback.opaque = d;
	/* A playlist-like format must not reach for URLs or other files. */
	if ((ret = av_dict_set(&opts, "protocol_whitelist", "file", 0)) < 0)
		goto fail;
	ret = avformat_open_input(&d->fmt, url, NULL, &opts);
	if (ret < 0)
		goto fail;	/* d->fmt is freed and NULL */
	what = "reading stream info";
	if ((ret = avformat_find_stream_info(d->fmt, NULL)) < 0)
		goto fail;
	what = "finding audio";
	ret = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec,
				  0);
	if (ret == AVERROR_STREAM_NOT_FOUND) {
		/* Probing stopped by the deadline finds no stream either:
		 * say which it was. */
		if (cancelled(d))
			snprintf(d->err, sizeof d->err, "%s: cancelled", what);
		else if (past_deadline(d))
			snprintf(d->err, sizeof d->err,
				 "%s: timed out after %g s", what,
				 d->timeout_s);
		else
			snprintf(d->err, sizeof d->err, "no audio stream");
		goto fail_text;
	}
	if (ret == AVERROR_DECODER_NOT_FOUND) {
		snprintf(d->err, sizeof d->err, "no decoder for the audio");
		goto fail_text;
	}
	if (ret < 0)
		goto fail;
	d->stream = ret;
	AVStream *s = d->fmt->streams[d->stream];
	for (unsigned i = 0; i < d->fmt->nb_streams; i++)
		if ((int)i != d->stream)
			d->fmt->streams[i]->discard = AVDISCARD_ALL;
	if (s->codecpar->ch_layout.nb_channels <= 0 ||
	    s->codecpar->sample_rate <= 0) {
		snprintf(d->err, sizeof d->err,
			 "audio stream without channels or sample rate");
		goto fail_text;
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

	what = "opening the decoder";
	d->dec = avcodec_alloc_context3(codec);
	if (!d->dec)
		goto oom;
	if ((ret = avcodec_parameters_to_context(d->dec, s->codecpar)) < 0)
		goto fail;
	d->dec->pkt_timebase = s->time_base;
	/* Parallelism is one file per worker thread. */
	d->dec->thread_count = 1;
	if ((ret = avcodec_open2(d->dec, codec, NULL)) < 0)
		goto fail;

	plan_excerpts(d, o->max_seconds);
	if (d->n_excerpts > 1)
		seek_excerpt(d);
	av_dict_free(&opts);
	free(url);
	return d;

oom:
	ret = AVERROR(ENOMEM);
fail:
	if (d) {
		fail_av(d, what, ret);
		snprintf(err, err_size, "%s", d->err);
	} else {
		snprintf(err, err_size, "out of memory");
	}
	av_dict_free(&opts);
	free(url);
	decode_close(d);
	return NULL;
fail_text:
	snprintf(err, err_size, "%s", d->err);
	av_dict_free(&opts);
	free(url);
	decode_close(d);
	return NULL;
}

long decode_read(struct decode *d, float *buf, size_t n)
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
				fail_text(d, "no audio could be decoded");
				return -1;
			}
			d->done = true;
		}
	}
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
	swr_free(&d->swr);
	av_channel_layout_uninit(&d->in_layout);
	avcodec_free_context(&d->dec);
	avformat_close_input(&d->fmt);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d->out);
	free(d);
}

bool decode_file(const char *path, const struct decode_opts *o,
		 double *seconds, double *duration, char *err, size_t err_size)
{
	float buf[4096];
	long n;
	struct decode *d = decode_open(path, o, err, err_size);
	*seconds = 0;
	*duration = 0;
	if (!d)
		return false;
	while ((n = decode_read(d, buf, sizeof buf / sizeof *buf)) > 0)
		;
	bool ok = n == 0;
	if (!ok)
		snprintf(err, err_size, "%s", decode_error(d));
	*seconds = (double)d->delivered / DECODE_RATE;
	*duration = d->duration > 0 ? d->duration : *seconds;
	decode_close(d);
	return ok;
}
