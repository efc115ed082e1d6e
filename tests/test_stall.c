/* Issue 8, a daemon that looks late: on a loaded machine (or stalled by a
 * long SQLite wait, a synchronous retrain, swap) the daemon may see a song
 * change long after it happened. A song skipped after 0.5 s must still be
 * a skip, not a full play; a song that did play to its end while the
 * daemon was stalled must still be a like; and a song that began during a
 * stall and then played to its end is a like too (issue 13: stalled for
 * 70 s, a song first seen at 0:32 of 0:40 that then finished was stored as
 * "reached its end without being heard"). The stall is made with SIGSTOP
 * and SIGCONT on the real daemon against a real MPD; the first test shows
 * the same with the watcher alone. */
#include "daemon/watch.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACK_S 3.0
#define STALL_S (TRACK_S + 1.0)
#define LONG_S 30

static struct rig rig;
static bool ready;

/* The watcher sees a 3 s song start, then nothing until 3.5 s later, when
 * another song has been playing for 3 s: the first was left after 0.5 s. */
static void test_late_look_at_a_skip(void)
{
	struct watch w;
	struct watch_rules rules = { .end_margin = 10, .min_duration = 1 };
	watch_init(&w, &rules);
	struct watch_verdict v;
	struct watch_obs o = { .now = 100.0, .state = WATCH_PLAY,
			       .song_id = 1, .uri = "a.wav", .elapsed = 0,
			       .duration = TRACK_S };
	CHECK(!watch_observe(&w, &o, &v));
	o = (struct watch_obs){ .now = 100.0 + 0.5 + TRACK_S,
				.state = WATCH_PLAY, .song_id = 2,
				.uri = "b.wav", .elapsed = TRACK_S,
				.duration = 60 };
	if (CHECK(watch_observe(&w, &o, &v))) {
		CHECK_STR(v.uri, "a.wav");
		CHECK_MSG(v.kind == WATCH_SKIP, "a song left after 0.5 s is "
			  "judged %s (%s; %.2f s heard)",
			  v.kind == WATCH_LIKE ? "a like" : "no label",
			  v.why, v.played);
	}
	watch_reset(&w);
}

static void setup(void)
{
	/* The song after the stalled one is long: it is still playing when
	 * the daemon looks again, as after any stall shorter than a song.
	 * (Had MPD gone through two songs and stopped, nothing in its status
	 * would tell what happened to the first.) It is 30 s long: its end
	 * margin (a tenth, 3 s) is wider than the jitter of MPD's elapsed
	 * time against the wall clock under a loaded sanitizer run (a 12 s
	 * song, margin 1.2 s, was once judged a skip there). */
	enum { RATE = 22050 };
	static float silence[LONG_S * RATE];
	char long_path[4300];
	ready = rig_start_mpd(&rig, harness_tmpdir()) &&
		listener_make_library(rig.mpd.music, 2, TRACK_S);
	snprintf(long_path, sizeof long_path, "%s/long.wav", rig.mpd.music);
	for (int i = 0; i < LONG_S * RATE; i++)
		silence[i] = 0.1f * (float)((i / 50) % 2 ? 1 : -1);
	ready = ready &&
		harness_write_wav(long_path, silence, LONG_S * RATE, 1, RATE) &&
		mpdtest_update(&rig.mpd) &&
		rig_write_conf(&rig,
			       "feedback = { min_duration = 1.0; };\n"
			       "queue = { settle_ms = 50.0; };\n"
			       "log = { level = \"debug\"; };") &&
		rig_start_daemon(&rig, 30);
}

/* The verdict the daemon logged for uri since byte `from`, waited for. */
static bool logged_kind(const char *uri, long from, char *kind, size_t size)
{
	double end = proc_now() + 10;
	while (proc_now() < end) {
		struct rig_logged *v = NULL;
		int n = 0;
		rig_logged_events(rig.log, from, &v, &n);
		for (int i = 0; i < n; i++)
			if (!strcmp(v[i].uri, uri)) {
				snprintf(kind, size, "%s", v[i].kind);
				free(v);
				return true;
			}
		free(v);
		proc_sleep(0.05);
	}
	return false;
}

/* Plays a then b; once the daemon has seen a play, stops it for STALL_S
 * (after `skip_after` s of it, MPD goes to b, unless negative); returns
 * the verdict on a. */
static bool stalled(const char *a, const char *b, double skip_after,
		    char *kind, size_t size)
{
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!c)
		return false;
	long from = proc_file_size(rig.log);
	bool ok = mpd_run_clear(c) && mpd_run_add(c, a) && mpd_run_add(c, b) &&
		  mpd_run_play_pos(c, 0) &&
		  proc_wait_for(rig.log, "player: play song", from, 5);
	if (ok) {
		kill(rig.pid, SIGSTOP);
		double t0 = proc_now();
		if (skip_after >= 0) {
			proc_sleep(skip_after);
			ok = mpd_run_next(c);
		}
		proc_sleep(STALL_S - (proc_now() - t0));
		kill(rig.pid, SIGCONT);
		ok = ok && logged_kind(a, from, kind, size);
	}
	mpd_run_stop(c);
	mpd_connection_free(c);
	proc_sleep(0.3);
	return ok;
}

/* A skip seen late is judged through the new song's elapsed time (the
 * old one ended when it began). Against MPD's null output that figure lags
 * the wall clock by seconds after a stall (seen: 1.1 s reported 3.5 s into
 * the song), so the end-to-end form of test_late_look_at_a_skip cannot be
 * asserted here; the watcher's rule is tested above. */

static void test_full_play_seen_late_is_a_like(void)
{
	char kind[16] = "";
	if (!CHECK(ready) ||
	    !CHECK(stalled("soft_00.wav", "long.wav", -1, kind,
			   sizeof kind)))
		return;
	CHECK_STR(kind, "played");
	printf("a full play seen %.0f s late: %s\n", STALL_S, kind);
}

/* The daemon's view of the player since byte `from` of its log, for a
 * failure's message. */
static void show_player_lines(long from)
{
	FILE *f = fopen(rig.log, "r");
	char line[512];
	if (!f || fseek(f, from, SEEK_SET) != 0) {
		if (f)
			fclose(f);
		return;
	}
	while (fgets(line, sizeof line, f))
		if (strstr(line, "player:") || strstr(line, ".wav:"))
			printf("  log: %s", line);
	fclose(f);
}

/* MPD's clock against the wall clock while long.wav plays, from the
 * test's own looks at MPD. Against the null output, MPD's elapsed time
 * has been seen to run at 2.4 times the wall clock on a loaded CI machine
 * (a 30 s song over in 7 s): no listener hears a song that way, and the
 * daemon rightly caps what was heard by the time that went by, so such a
 * run says nothing about the daemon. */
struct pace {
	double w0, e0, w1, e1;
	bool seen;
};

/* Looks at MPD once; returns long.wav's elapsed time (0 when another
 * song plays) and records it in p. */
static double look(struct mpd_connection *c, struct pace *p)
{
	struct mpd_status *st = mpd_run_status(c);
	struct mpd_song *song = mpd_run_current_song(c);
	double now = proc_now();
	double at = st && song && !strcmp(mpd_song_get_uri(song), "long.wav") ?
		    mpd_status_get_elapsed_ms(st) / 1000.0 : 0;
	if (st)
		mpd_status_free(st);
	if (song)
		mpd_song_free(song);
	if (at > 0) {
		if (!p->seen) {
			p->w0 = now;
			p->e0 = at;
			p->seen = true;
		}
		p->w1 = now;
		p->e1 = at;
	}
	return at;
}

/* MPD's seconds per wall-clock second over what was seen of long.wav, or
 * 0 when too little was seen to tell. */
static double pace_of(const struct pace *p)
{
	double dw = p->w1 - p->w0;
	return p->seen && dw >= 5 ? (p->e1 - p->e0) / dw : 0;
}

struct begun {
	char soft[16], lng[16];
	double at, stall, pace;
};

/* soft_01 plays, the daemon stops; long.wav begins during the stall and
 * is well under way when the daemon looks again; it then plays to its
 * end. Returns false when the scenario could not be played out. */
static bool begun_during_a_stall(struct begun *r, long *from)
{
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return false;
	memset(r, 0, sizeof *r);
	struct pace p = { 0 };
	*from = proc_file_size(rig.log);
	/* One command list: the filler, which fills an emptied queue, gets
	 * no chance to slip its picks in between. */
	bool ok = CHECK(mpd_command_list_begin(c, false) && mpd_send_clear(c) &&
			mpd_send_add(c, "soft_01.wav") &&
			mpd_send_add(c, "long.wav") &&
			mpd_send_play_pos(c, 0) && mpd_command_list_end(c) &&
			mpd_response_finish(c)) &&
		  CHECK(proc_wait_for(rig.log, "player: play song", *from, 5));
	if (!ok) {
		mpd_connection_free(c);
		return false;
	}
	kill(rig.pid, SIGSTOP);
	struct mpd_song *first = mpd_run_current_song(c);
	CHECK_MSG(first && !strcmp(mpd_song_get_uri(first), "soft_01.wav"),
		  "playing %s", first ? mpd_song_get_uri(first) : "nothing");
	if (first)
		mpd_song_free(first);
	double t0 = proc_now();
	/* Until long.wav is a fifth through (by MPD's own clock). */
	while (proc_now() - t0 < 30 && (r->at = look(c, &p)) < 6.0)
		proc_sleep(0.1);
	r->stall = proc_now() - t0;
	kill(rig.pid, SIGCONT);
	CHECK(logged_kind("soft_01.wav", *from, r->soft, sizeof r->soft));
	/* long.wav ends about 24 s later. */
	double end = proc_now() + LONG_S + 10;
	while (!r->lng[0] && proc_now() < end) {
		look(c, &p);
		struct rig_logged *v = NULL;
		int n = 0;
		rig_logged_events(rig.log, *from, &v, &n);
		for (int i = 0; i < n; i++)
			if (!strcmp(v[i].uri, "long.wav"))
				snprintf(r->lng, sizeof r->lng, "%s", v[i].kind);
		free(v);
		proc_sleep(0.1);
	}
	r->pace = pace_of(&p);
	mpd_run_stop(c);
	mpd_connection_free(c);
	return true;
}

static void test_song_begun_during_a_stall(void)
{
	if (!CHECK(ready))
		return;
	/* A run in which MPD did not keep time is played again. */
	struct begun r;
	long from = 0;
	for (int attempt = 1; attempt <= 3; attempt++) {
		if (!begun_during_a_stall(&r, &from))
			return;
		if (r.pace >= 0.8 && r.pace <= 1.25)
			break;
		printf("MPD ran at %.2f times the wall clock (try %d of 3): "
		       "played again\n", r.pace, attempt);
		proc_sleep(0.5);
	}
	if (r.pace < 0.8 || r.pace > 1.25) {
		printf("MPD did not keep time in 3 tries (%.2f times the wall "
		       "clock): the song begun during a stall is not judged\n",
		       r.pace);
		return;
	}
	CHECK_STR(r.soft, "played");
	if (!CHECK_MSG(!strcmp(r.lng, "played"), "long.wav, first seen at "
		       "%.1f of %d s after a %.1f s stall, then played to its "
		       "end at %.2f times the wall clock: %s", r.at, LONG_S,
		       r.stall, r.pace, r.lng[0] ? r.lng : "no event"))
		show_player_lines(from);
	printf("a song begun during a %.1f s stall, first seen at %.1f of %d "
	       "s, then played to its end (MPD at %.2f times the wall clock): "
	       "%s\n", r.stall, r.at, LONG_S, r.pace, r.lng);
}

int main(void)
{
	RUN(test_late_look_at_a_skip);
	setup();
	RUN(test_full_play_seen_late_is_a_like);
	RUN(test_song_begun_during_a_stall);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
