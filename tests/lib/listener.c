#include "tests/lib/listener.h"

#include "core/store.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"

#include <math.h>
#include <mpd/client.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE 44100

static uint64_t rng = 12345;

static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Slow, soft and tonal: a sustained major triad with a slow swell. */
static void soft_track(float *s, size_t n, int k, double seconds)
{
	static const double roots[] = { 220.0, 246.9, 261.6, 293.7, 329.6 };
	double f = roots[k % 5] * (1.0 + 0.01 * (k / 5));
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE;
		double env = 0.5 - 0.5 * cos(2 * M_PI * t / seconds);
		s[i] = (float)(0.12 * env *
			       (sin(2 * M_PI * f * t) +
				0.7 * sin(2 * M_PI * f * 1.25 * t) +
				0.6 * sin(2 * M_PI * f * 1.5 * t)));
	}
}

/* Fast, percussive and noisy: noise bursts on a fast beat. */
static void noisy_track(float *s, size_t n, int k)
{
	double period = 60.0 / (160 + 4 * k);
	for (size_t i = 0; i < n; i++) {
		double t = (double)i / RATE;
		double env = exp(-fmod(t, period) * 40.0);
		double noise = 2.0 * urand() - 1.0;
		s[i] = (float)(0.8 * env * noise + 0.05 * noise);
	}
}

bool listener_make_library(const char *dir, int per_style, double seconds)
{
	return listener_make_styles(dir, per_style, per_style, seconds);
}

bool listener_make_styles(const char *dir, int n_soft, int n_noisy,
			  double seconds)
{
	size_t n = (size_t)(seconds * RATE);
	float *s = malloc(n * sizeof *s);
	if (!s)
		return false;
	bool ok = true;
	char path[4400];
	for (int k = 0; ok && k < n_soft; k++) {
		soft_track(s, n, k, seconds);
		snprintf(path, sizeof path, "%s/soft_%02d.wav", dir, k);
		ok = harness_write_track(path, s, n, RATE);
	}
	for (int k = 0; ok && k < n_noisy; k++) {
		noisy_track(s, n, k);
		snprintf(path, sizeof path, "%s/noisy_%02d.wav", dir, k);
		ok = harness_write_track(path, s, n, RATE);
	}
	free(s);
	return ok;
}

bool listener_make_tagged_library(const char *dir, int per_style,
				   double seconds)
{
	size_t n = (size_t)(seconds * RATE);
	float *s = malloc(n * sizeof *s);
	if (!s)
		return false;
	bool ok = true;
	char wav[4400];
	snprintf(wav, sizeof wav, "%s/.tmp.wav", dir);
	for (int k = 0; ok && k < 2 * per_style; k++) {
		bool soft = k % 2 == 0;
		int i = k / 2;
		if (soft)
			soft_track(s, n, i, seconds);
		else
			noisy_track(s, n, i);
		ok = harness_write_track(wav, s, n, RATE) &&
		     harness_system("ffmpeg -nostdin -v error -y -i '%s' "
				    "-metadata artist='%s %c' "
				    "-metadata album='%s %c' "
				    "-metadata genre='%s' -metadata title=%d "
				    "'%s/%s_%02d.flac'", wav,
				    soft ? "Soft" : "Noise", 'A' + i % 2,
				    soft ? "Calm" : "Loud", 'A' + i % 2,
				    soft ? "Ambient" : "Industrial", i, dir,
				    soft ? "soft" : "noisy", i) == 0;
	}
	remove(wav);
	free(s);
	return ok;
}

static bool (*taste)(const char *uri, void *ctx);
static void *taste_ctx;

void listener_set_taste(bool (*likes)(const char *uri, void *ctx),
			void *ctx)
{
	taste = likes;
	taste_ctx = ctx;
}

bool listener_likes(const char *uri)
{
	if (taste)
		return taste(uri, taste_ctx);
	const char *base = strrchr(uri, '/');
	base = base ? base + 1 : uri;
	return strncmp(base, "soft_", 5) == 0;
}

/* Waits for a player event, at most `seconds`; false when the connection
 * failed. A bound, so a queue that ran dry cannot hang the listener. */
static bool wait_player(struct mpd_connection *c, double seconds)
{
	if (!mpd_send_idle_mask(c, MPD_IDLE_PLAYER))
		return false;
	struct pollfd p = { .fd = mpd_connection_get_fd(c), .events = POLLIN };
	if (poll(&p, 1, (int)(seconds * 1000)) == 1)
		return mpd_recv_idle(c, false) != 0 ||
		       mpd_connection_get_error(c) == MPD_ERROR_SUCCESS;
	mpd_run_noidle(c);
	return mpd_connection_get_error(c) == MPD_ERROR_SUCCESS;
}

static bool default_taste(const char *uri, void *ctx)
{
	(void)ctx;
	return listener_likes(uri);
}

int listener_run(struct mpd_connection *c, double skip_s, double timeout_s,
		 listener_fn fn, void *ctx)
{
	return listener_run_taste(c, skip_s, timeout_s, default_taste, NULL,
				  fn, ctx);
}

int listener_run_taste(struct mpd_connection *c, double skip_s,
		       double timeout_s, listener_taste_fn likes,
		       void *likes_ctx, listener_fn fn, void *ctx)
{
	int heard = 0;
	int last_id = -1;
	double deadline = proc_now() + timeout_s;
	while (proc_now() < deadline) {
		struct mpd_song *song = mpd_run_current_song(c);
		if (!song) {
			if (mpd_connection_get_error(c) != MPD_ERROR_SUCCESS)
				break;
			/* Stopped with nothing current: wait for the next
			 * player event (mpdrec refills and restarts). */
			if (!wait_player(c, 1.0))
				break;
			continue;
		}
		int id = (int)mpd_song_get_id(song);
		char uri[1024];
		snprintf(uri, sizeof uri, "%s", mpd_song_get_uri(song));
		mpd_song_free(song);
		if (id != last_id) {
			last_id = id;
			bool liked = likes(uri, likes_ctx);
			if (getenv("LISTENER_VERBOSE"))
				fprintf(stderr, "listener: %.2f %s %s\n",
					proc_now(), uri,
					liked ? "to the end" : "skip");
			if (!fn(heard++, uri, liked, ctx))
				break;
			if (!liked) {
				proc_sleep(skip_s);
				mpd_run_next(c);
				continue;
			}
		}
		if (!wait_player(c, 1.0))
			break;
	}
	return heard;
}

int listener_analysed(const char *data_dir)
{
	char err[256];
	struct store *s = store_open(data_dir, err, sizeof err);
	int counts[4] = { 0 };
	if (s)
		store_count_tracks(s, counts);
	store_close(s);
	return counts[STORE_ANALYSED];
}

int listener_wait_analysed(const char *data_dir, int n, double timeout_s)
{
	double end = proc_now() + timeout_s;
	int have;
	while ((have = listener_analysed(data_dir)) < n && proc_now() < end)
		proc_sleep(0.2);
	return have;
}

bool listener_begin(struct mpd_connection *c, const char *uri)
{
	return mpd_run_clear(c) && mpd_run_add(c, uri) && mpd_run_play(c);
}

bool listener_wait_queue(struct mpd_connection *c, unsigned n,
			 double timeout_s)
{
	double end = proc_now() + timeout_s;
	do {
		struct mpd_status *st = mpd_run_status(c);
		unsigned len = st ? mpd_status_get_queue_length(st) : 0;
		if (st)
			mpd_status_free(st);
		if (len >= n)
			return true;
		proc_sleep(0.1);
	} while (proc_now() < end);
	return false;
}
