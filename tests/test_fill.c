/* Living with the user (issue 6): the queue filler against a real MPD.
 * Songs the user adds count toward queue.ahead and are never moved or
 * removed; a stopped queue is filled but not started; random mode is left
 * alone (and said once); consume mode keeps being topped up. */
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mpdtest mpd;
static char log_path[4200];
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

static enum mpd_state player_state(void)
{
	struct mpd_status *st = mpd_run_status(c);
	enum mpd_state s = st ? mpd_status_get_state(st) : MPD_STATE_UNKNOWN;
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

static bool setup(void)
{
	const char *root = harness_tmpdir();
	char mroot[4200], data[4200], conf[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	snprintf(data, sizeof data, "%s/data", root);
	snprintf(conf, sizeof conf, "%s/mpdrec.conf", root);
	snprintf(log_path, sizeof log_path, "%s/mpdrec.log", root);
	if (!mpdtest_start(&mpd, mroot) ||
	    !listener_make_library(mpd.music, 6, 2.0) || !mpdtest_update(&mpd))
		return false;
	FILE *f = fopen(conf, "w");
	fprintf(f,
		"mpd = { host = \"127.0.0.1\"; port = %u; };\n"
		"music_directory = \"%s\";\n"
		"data_directory = \"%s\";\n"
		"feedback = { min_duration = 1.0; };\n"
		"queue = { ahead = 2; settle_ms = 300.0; };\n",
		mpd.port, mpd.music, data);
	fclose(f);
	char *argv[] = { (char *)proc_mpdrec(), "--config", conf, "run", NULL };
	daemon_pid = proc_spawn(argv, log_path);
	c = mpdtest_connect(&mpd);
	return c && listener_wait_analysed(data, 12, 60) == 12;
}

static void test_stopped_queue_is_filled_not_started(void)
{
	CHECK(mpd_run_clear(c));
	CHECK(listener_wait_queue(c, 2, 5));
	proc_sleep(1.0);
	CHECK_INT(queue_length(), 2);
	CHECK_INT(player_state(), MPD_STATE_STOP);
}

static void test_user_songs_count_and_stay(void)
{
	/* A client's clear-then-add, faster than the settle time. */
	const char *mine[] = { "noisy_03.wav", "soft_01.wav", "noisy_05.wav" };
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

static void test_random_mode_is_left_alone(void)
{
	long from = proc_file_size(log_path);
	CHECK(mpd_run_random(c, true));
	CHECK(mpd_run_clear(c));
	proc_sleep(1.5);
	CHECK_INT(queue_length(), 0);
	CHECK(proc_wait_for(log_path, "random mode is on", from, 1));
	int said = count_in_log("random mode is on");
	CHECK(mpd_run_add(c, "soft_02.wav"));
	CHECK(mpd_run_clear(c));
	proc_sleep(1.0);
	CHECK_INT(count_in_log("random mode is on"), said);	/* once */
	CHECK(mpd_run_random(c, false));
	CHECK(listener_wait_queue(c, 2, 5));
}

static void test_consume_mode_is_topped_up(void)
{
	CHECK(mpd_run_clear(c));
	CHECK(mpd_run_consume(c, true));
	CHECK(listener_wait_queue(c, 2, 5));
	CHECK(mpd_run_play(c));
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

int main(void)
{
	bool ok = setup();
	if (!ok)
		fprintf(stderr, "test_fill: setup failed (log: %s)\n", log_path);
	if (ok) {
		RUN(test_stopped_queue_is_filled_not_started);
		RUN(test_user_songs_count_and_stay);
		RUN(test_random_mode_is_left_alone);
		RUN(test_consume_mode_is_topped_up);
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
