/* Living with the user (issues 6 and 14): the queue filler against a real
 * MPD and the real daemon. It fills only once the user plays: never an
 * empty stopped queue at start, never ahead of what the user just added,
 * nothing after a clear until the user plays again. Songs the user adds
 * count toward queue.ahead and are never moved; played songs beyond
 * queue.keep_played are cropped; random mode is left alone (and said once);
 * consume mode keeps being topped up; include/exclude rules and an
 * artist's ban hold; `mpdrec recommend` shows what the daemon then
 * queues. */
#include "core/store.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <fnmatch.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_STYLE 6
#define KEEP_PLAYED 3

static struct mpdtest mpd;
static char log_path[4200], conf_path[4200], data_dir[4200];
static pid_t daemon_pid = -1;
static struct mpd_connection *c;

static unsigned queue_length(void)
{
	struct mpd_status *st = mpd_run_status(c);
	unsigned n = st ? mpd_status_get_queue_length(st) : 0;
	if (st)
		mpd_status_free(st);
	return n;
}

static enum mpd_state player_state(int *pos)
{
	struct mpd_status *st = mpd_run_status(c);
	enum mpd_state s = st ? mpd_status_get_state(st) : MPD_STATE_UNKNOWN;
	if (pos)
		*pos = st ? mpd_status_get_song_pos(st) : -1;
	if (st)
		mpd_status_free(st);
	return s;
}

/* The URI at queue position pos into buf. */
static bool uri_at(unsigned pos, char *buf, size_t size)
{
	struct mpd_song *s = mpd_run_get_queue_song_pos(c, pos);
	if (!s)
		return false;
	snprintf(buf, size, "%s", mpd_song_get_uri(s));
	mpd_song_free(s);
	return true;
}

static int count_in_log(const char *text)
{
	FILE *f = fopen(log_path, "r");
	char line[4096];
	int n = 0;
	while (f && fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

/* The URIs the daemon queued since byte `from` of its log (up to max). */
static int queued_since(long from, char uris[][256], int max)
{
	FILE *f = fopen(log_path, "r");
	if (!f)
		return 0;
	fseek(f, from, SEEK_SET);
	char line[8192];
	int n = 0;
	while (n < max && fgets(line, sizeof line, f)) {
		const char *q = strstr(line, "info: queued ");
		if (!q)
			continue;
		q += strlen("info: queued ");
		size_t k = strcspn(q, " ");
		snprintf(uris[n++], 256, "%.*s", (int)k, q);
	}
	fclose(f);
	return n;
}

static bool write_conf(const char *extra)
{
	return mpdtest_write_mpdrec_conf(&mpd, conf_path, NULL, data_dir,
		"feedback = { min_duration = 1.0; };\n"
		"queue = { ahead = 2; settle_ms = 300.0; artist_spacing = 0;"
		" keep_played = %d; %s };\n", KEEP_PLAYED, extra ? extra : "");
}

static bool start_daemon(void)
{
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf_path, "run",
			 NULL };
	long from = proc_file_size(log_path);
	daemon_pid = proc_spawn(argv, log_path);
	return daemon_pid > 0 &&
	       proc_wait_for(log_path, "connected to MPD", from, 10);
}

/* A new configuration, applied by SIGHUP. */
static bool reload(const char *extra)
{
	long from = proc_file_size(log_path);
	return write_conf(extra) && kill(daemon_pid, SIGHUP) == 0 &&
	       proc_wait_for(log_path, "configuration reloaded", from, 5);
}

static bool setup(void)
{
	const char *root = harness_tmpdir();
	char mroot[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	snprintf(data_dir, sizeof data_dir, "%s/data", root);
	snprintf(conf_path, sizeof conf_path, "%s/mpdrec.conf", root);
	snprintf(log_path, sizeof log_path, "%s/mpdrec.log", root);
	if (!mpdtest_start(&mpd, mroot) ||
	    !listener_make_tagged_library(mpd.music, PER_STYLE, 3.0) ||
	    !mpdtest_update(&mpd) || !write_conf(NULL) || !start_daemon())
		return false;
	c = mpdtest_connect(&mpd);
	return c && listener_wait_analysed(data_dir, 2 * PER_STYLE, 60) ==
		    2 * PER_STYLE;
}

/* As a user starts: clear, a song of their own, play. */
static bool play_own(const char *uri)
{
	return mpd_run_clear(c) && mpd_run_add(c, uri) && mpd_run_play(c);
}

static void test_empty_stopped_queue_is_left_alone(void)
{
	/* The daemon has run since setup on an empty, stopped queue. */
	proc_sleep(1.0);
	CHECK_INT(queue_length(), 0);
	CHECK_INT(count_in_log("info: queued"), 0);
	CHECK(count_in_log("MPD is stopped: the queue is yours") >= 1);
}

static void test_add_then_play_starts_with_the_users_song(void)
{
	CHECK(play_own("noisy_03.flac"));
	CHECK(listener_wait_queue(c, 3, 5));
	char uri[256] = "";
	CHECK(uri_at(0, uri, sizeof uri));
	CHECK_STR(uri, "noisy_03.flac");
	int pos;
	CHECK_INT(player_state(&pos), MPD_STATE_PLAY);
	CHECK_INT(pos, 0);
	/* Both picks after it, none twice, none the user's. */
	char a[256] = "", b[256] = "";
	CHECK(uri_at(1, a, sizeof a) && uri_at(2, b, sizeof b));
	CHECK(strcmp(a, b) != 0 && strcmp(a, uri) != 0 && strcmp(b, uri) != 0);
}

static void test_clear_stops_the_picks_until_play(void)
{
	CHECK(mpd_run_clear(c));
	proc_sleep(1.5);
	CHECK_INT(queue_length(), 0);
	CHECK(mpd_run_add(c, "soft_01.flac"));
	proc_sleep(1.0);
	CHECK_INT(queue_length(), 1);
	CHECK_INT(player_state(NULL), MPD_STATE_STOP);
	CHECK(mpd_run_play(c));
	CHECK(listener_wait_queue(c, 3, 5));
	char uri[256] = "";
	CHECK(uri_at(0, uri, sizeof uri));
	CHECK_STR(uri, "soft_01.flac");
	CHECK(mpd_run_stop(c));
}

static void test_user_songs_count_and_stay(void)
{
	/* A client's clear-then-add, faster than the settle time. */
	const char *mine[] = { "noisy_03.flac", "soft_01.flac",
			       "noisy_05.flac" };
	CHECK(mpd_run_clear(c));
	for (int i = 0; i < 3; i++)
		CHECK(mpd_run_add(c, mine[i]));
	proc_sleep(1.5);
	CHECK_INT(queue_length(), 3);
	for (unsigned i = 0; i < 3; i++) {
		char uri[256] = "";
		CHECK(uri_at(i, uri, sizeof uri));
		CHECK_STR(uri, mine[i]);
	}
	/* Playing the second leaves one ahead: one pick is appended after
	 * the user's songs. */
	CHECK(mpd_run_play_pos(c, 1));
	CHECK(listener_wait_queue(c, 4, 5));
	char uri[256] = "";
	CHECK(uri_at(2, uri, sizeof uri));
	CHECK_STR(uri, mine[2]);
	CHECK(mpd_run_stop(c));
}

/* Played songs beyond queue.keep_played are cropped, the current song and
 * those after it never. */
static void test_crop_keeps_a_bounded_queue(void)
{
	long from = proc_file_size(log_path);
	CHECK(play_own("soft_02.flac"));
	CHECK(listener_wait_queue(c, 3, 5));
	for (int k = 0; k < 7; k++) {
		CHECK(mpd_run_next(c));
		proc_sleep(0.5);
		int ahead = 0;
		for (int t = 0; t < 50; t++) {
			int pos;
			player_state(&pos);
			ahead = (int)queue_length() - pos - 1;
			if (ahead >= 2)
				break;
			proc_sleep(0.1);
		}
		CHECK_MSG(ahead >= 2, "song %d: %d ahead", k, ahead);
	}
	int pos;
	CHECK_INT(player_state(&pos), MPD_STATE_PLAY);
	CHECK_MSG(pos <= KEEP_PLAYED, "%d played songs kept", pos);
	CHECK_MSG(queue_length() <= KEEP_PLAYED + 3, "queue of %u",
		  queue_length());
	CHECK(proc_wait_for(log_path, "cropped ", from, 1));
	CHECK(mpd_run_stop(c));
}

static void test_random_mode_is_left_alone(void)
{
	long from = proc_file_size(log_path);
	CHECK(mpd_run_random(c, true));
	CHECK(play_own("soft_02.flac"));
	proc_sleep(1.5);
	CHECK_INT(queue_length(), 1);
	CHECK(proc_wait_for(log_path, "random mode is on", from, 1));
	int said = count_in_log("random mode is on");
	CHECK(mpd_run_add(c, "soft_03.flac"));
	CHECK(mpd_run_next(c));
	proc_sleep(1.0);
	CHECK_INT(count_in_log("random mode is on"), said);	/* once */
	CHECK(mpd_run_random(c, false));
	CHECK(listener_wait_queue(c, 3, 5));
	CHECK(mpd_run_stop(c));
}

static void test_consume_mode_is_topped_up(void)
{
	CHECK(mpd_run_consume(c, true));
	CHECK(play_own("noisy_00.flac"));
	CHECK(listener_wait_queue(c, 3, 5));
	/* Each song played is consumed; mpdrec keeps two after the current
	 * one (three in all) across several song changes. */
	for (int k = 0; k < 3; k++) {
		CHECK(mpd_run_next(c));
		CHECK_MSG(listener_wait_queue(c, 3, 5),
			  "queue of %u after a song change in consume mode",
			  queue_length());
	}
	CHECK(mpd_run_stop(c));
	CHECK(mpd_run_consume(c, false));
}

/* Skipping through every song in consume mode empties the queue while it
 * plays: mpdrec goes on with its picks (a clear would have left it
 * alone). */
static void test_queue_run_dry_goes_on(void)
{
	CHECK(mpd_run_consume(c, true));
	CHECK(play_own("soft_04.flac"));
	CHECK(listener_wait_queue(c, 3, 5));
	long from = proc_file_size(log_path);
	for (int k = 0; k < 3; k++)
		CHECK(mpd_run_next(c));
	bool playing = false;
	for (int t = 0; t < 50 && !playing; t++) {
		proc_sleep(0.1);
		playing = player_state(NULL) == MPD_STATE_PLAY &&
			  queue_length() >= 2;
	}
	CHECK_MSG(playing, "stopped with %u songs after the queue ran dry",
		  queue_length());
	CHECK(proc_wait_for(log_path, "the queue ran out while playing", from,
			    1));
	CHECK(mpd_run_stop(c));
	CHECK(mpd_run_consume(c, false));
}

/* Plays `songs` songs by skipping through them; returns the URIs the
 * daemon queued meanwhile (into uris, at most max). */
static int skip_through(const char *first, int songs, char uris[][256],
			int max)
{
	long from = proc_file_size(log_path);
	CHECK(play_own(first));
	CHECK(listener_wait_queue(c, 3, 5));
	for (int k = 0; k < songs; k++) {
		CHECK(mpd_run_next(c));
		proc_sleep(0.6);
	}
	CHECK(mpd_run_stop(c));
	return queued_since(from, uris, max);
}

/* Whether uri is style_NN.flac with NN of the given parity (the artist
 * "A" is even, "B" odd). */
static bool is_tagged(const char *uri, const char *style, int parity)
{
	size_t n = strlen(style);
	if (strncmp(uri, style, n) != 0 || uri[n] != '_')
		return false;
	int i = atoi(uri + n + 1);
	return i % 2 == parity;
}

/* queue.include and queue.exclude, by tag and by path, applied at once
 * on a reload. */
static void test_rules_filter_the_candidates(void)
{
	if (!CHECK(reload("include = [\"genre:ambient\", "
			  "\"path:noisy_0[0-2].flac\"]; "
			  "exclude = [\"artist:Soft B\"];")))
		return;
	char uris[64][256];
	int n = skip_through("noisy_05.flac", 8, uris, 64);
	CHECK_MSG(n >= 6, "%d picks", n);
	for (int k = 0; k < n; k++) {
		bool in = is_tagged(uris[k], "soft", 0) ||
			  fnmatch("noisy_0[0-2].flac", uris[k], 0) == 0;
		bool out = is_tagged(uris[k], "soft", 1);
		CHECK_MSG(in && !out, "queued %s against the rules", uris[k]);
	}
	CHECK(reload(NULL));
}

/* Runs `mpdrec --config conf.. ARGS` and returns its exit status. */
static int mpdrec_cli(const char *args)
{
	return harness_system("'%s' --config '%s' %s", proc_mpdrec(),
			      conf_path, args);
}

/* An artist's ban (`mpdrec ban --artist`: the store, then the daemon told
 * on the channel) holds at the next pick, and its lifting too. */
static void test_artist_ban(void)
{
	long from = proc_file_size(log_path);
	CHECK_INT(mpdrec_cli("ban --artist 'Noise A'"), 0);
	CHECK_INT(mpdrec_cli("ban --artist 'Soft B'"), 0);
	CHECK(proc_wait_for(log_path, "ban-artist Soft B", from, 5));
	char uris[64][256];
	int n = skip_through("soft_00.flac", 8, uris, 64);
	CHECK_MSG(n >= 6, "%d picks", n);
	for (int k = 0; k < n; k++)
		CHECK_MSG(!is_tagged(uris[k], "noisy", 0) &&
			  !is_tagged(uris[k], "soft", 1),
			  "queued %s by a banned artist", uris[k]);
	from = proc_file_size(log_path);
	CHECK_INT(mpdrec_cli("unban --artist 'Noise A'"), 0);
	CHECK_INT(mpdrec_cli("unban --artist 'Soft B'"), 0);
	CHECK(proc_wait_for(log_path, "unban-artist Soft B", from, 5));
	n = skip_through("soft_01.flac", 10, uris, 64);
	int lifted = 0;
	for (int k = 0; k < n; k++)
		lifted += is_tagged(uris[k], "noisy", 0) ||
			  is_tagged(uris[k], "soft", 1);
	CHECK_MSG(lifted > 0, "no pick of %d by the unbanned artists", n);
}

/* The first URIs `mpdrec recommend -n` prints. */
static int recommend(int count, char uris[][256])
{
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "'%s' --config '%s' recommend -n %d",
		 proc_mpdrec(), conf_path, count);
	FILE *p = popen(cmd, "r");
	if (!p)
		return 0;
	char line[4096];
	int n = 0;
	while (n < count && fgets(line, sizeof line, p)) {
		int rank;
		char a[64], b[64], uri[256];
		if (sscanf(line, "%d %63s %63s %255s", &rank, a, b, uri) == 4 &&
		    rank == n + 1)
			snprintf(uris[n++], 256, "%s", uri);
	}
	pclose(p);
	return n;
}

/* recommend goes through the daemon's policy: with the randomness out
 * (no exploring; a library this small exploits its best candidate), the
 * daemon queues what recommend listed, and recommend lists nothing that
 * is queued. */
static void test_recommend_is_the_daemons_policy(void)
{
	CHECK_INT(proc_stop(daemon_pid, SIGTERM, 10, NULL), 0);
	daemon_pid = -1;
	/* A taste to go by: both classes, so that picks are not cold. */
	char err[512];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	for (int i = 0; i < 4; i++) {
		char soft[64], noisy[64];
		snprintf(soft, sizeof soft, "soft_%02d.flac", i);
		snprintf(noisy, sizeof noisy, "noisy_%02d.flac", i);
		struct store_event like = { .time = 2e9 + i, .uri = soft,
					    .kind = STORE_KIND_LIKE,
					    .label = 1, .weight = 2,
					    .source = "cli" };
		struct store_event skip = { .time = 2e9 + i, .uri = noisy,
					    .kind = STORE_KIND_DISLIKE,
					    .label = 0, .weight = 2,
					    .source = "cli" };
		CHECK(store_add_event(s, &like) && store_add_event(s, &skip));
	}
	store_close(s);
	CHECK(write_conf("explore_rate = 0.0;"));
	CHECK(play_own("soft_05.flac"));
	CHECK(mpd_run_pause(c, true));
	char want[2][256];
	int n = recommend(2, want);
	if (!CHECK_MSG(n == 2, "recommend listed %d", n))
		return;
	CHECK(strcmp(want[0], "soft_05.flac") != 0 &&
	      strcmp(want[1], "soft_05.flac") != 0);
	CHECK_INT(queue_length(), 1);
	/* Paused counts as listening: the daemon fills at once. */
	CHECK(start_daemon());
	CHECK(listener_wait_queue(c, 3, 10));
	char got[2][256] = { "", "" };
	CHECK(uri_at(1, got[0], sizeof got[0]));
	CHECK(uri_at(2, got[1], sizeof got[1]));
	CHECK_STR(got[0], want[0]);
	CHECK_STR(got[1], want[1]);
	CHECK(mpd_run_stop(c));
}

int main(void)
{
	bool ok = setup();
	if (!ok)
		fprintf(stderr, "test_fill: setup failed (log: %s)\n", log_path);
	if (ok) {
		RUN(test_empty_stopped_queue_is_left_alone);
		RUN(test_add_then_play_starts_with_the_users_song);
		RUN(test_clear_stops_the_picks_until_play);
		RUN(test_user_songs_count_and_stay);
		RUN(test_crop_keeps_a_bounded_queue);
		RUN(test_random_mode_is_left_alone);
		RUN(test_consume_mode_is_topped_up);
		RUN(test_queue_run_dry_goes_on);
		RUN(test_rules_filter_the_candidates);
		RUN(test_artist_ban);
		RUN(test_recommend_is_the_daemons_policy);
	}
	if (c)
		mpd_connection_free(c);
	if (daemon_pid > 0)
		proc_stop(daemon_pid, SIGTERM, 5, NULL);
	mpdtest_stop(&mpd);
	if (!ok)
		harness_check(false, __FILE__, __LINE__, "setup");
	return harness_finish();
}
