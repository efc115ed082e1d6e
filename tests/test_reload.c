/* Issue 15 (one road for every option) and issue 13 (a reload that
 * blocks): SIGHUP against a running daemon and a real MPD.
 *  - Every option of the table is changed in the file, one reload each;
 *    the log names each change as applied, and data_directory, which only
 *    a restart applies, is announced and kept. Each part shows it took the
 *    new value: the MPD link reconnects (another port, host, password,
 *    timeout), the filler keeps more songs queued, the watcher's rules
 *    change a label, the scan starts again, stickers are written, the log
 *    changes level and file, the learner retrains for another shape, and
 *    the model saved at the end carries the new learning rate, batch,
 *    steps, layers and ensemble. Before, model.*, mpd.*, feedback.stickers
 *    and log.file were silently not reloaded.
 *  - A configuration that @includes a FIFO blocked the daemon's main loop:
 *    skips and a like went unrecorded, and the like was then credited to
 *    the wrong song. The reload is now refused at once (only regular files
 *    are read; the read runs in a thread besides) and listening goes on. */
#include "conf/conf.h"
#include "core/model.h"
#include "core/store.h"
#include "tests/lib/harness.h"
#include "tests/lib/listener.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <fcntl.h>
#include <mpd/client.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PER_STYLE 3
#define TRACK_S 4.0

static struct rig rig;
static struct mpdtest other;	/* a second MPD, for mpd.port */
static bool ready;
static char extra[4400];	/* included by the configuration */

/* The configuration, as name = value pairs written grouped. */
struct setting {
	char name[64];
	char value[4400];
};
static struct setting settings[64];
static int n_settings;

static void set(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set(const char *name, const char *fmt, ...)
{
	int i;
	for (i = 0; i < n_settings; i++)
		if (!strcmp(settings[i].name, name))
			break;
	if (i == n_settings)
		snprintf(settings[n_settings++].name, 64, "%s", name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(settings[i].value, sizeof settings[i].value, fmt, ap);
	va_end(ap);
}

static void unset(const char *name)
{
	for (int i = 0; i < n_settings; i++)
		if (!strcmp(settings[i].name, name)) {
			settings[i] = settings[--n_settings];
			return;
		}
}

static bool write_conf(void)
{
	FILE *f = fopen(rig.conf, "w");
	if (!f)
		return false;
	static const char *const groups[] = { "", "mpd", "queue", "feedback",
					      "model", "analysis", "log" };
	for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
		size_t len = strlen(groups[g]);
		if (len)
			fprintf(f, "%s = {\n", groups[g]);
		for (int i = 0; i < n_settings; i++) {
			const char *dot = strchr(settings[i].name, '.');
			if (len ? !dot || (size_t)(dot - settings[i].name) !=
					  len || strncmp(settings[i].name,
							 groups[g], len)
				: dot != NULL)
				continue;
			fprintf(f, "%s%s = %s;\n", len ? "\t" : "",
				len ? dot + 1 : settings[i].name,
				settings[i].value);
		}
		if (len)
			fprintf(f, "};\n");
	}
	fprintf(f, "@include \"extra.conf\"\n");
	return fclose(f) == 0;
}

/* Rewrites the file, sends SIGHUP and waits for the reload to end.
 * Returns the log offset before it. */
static long reload(void)
{
	long from = proc_file_size(rig.log);
	CHECK(write_conf());
	kill(rig.pid, SIGHUP);
	CHECK(proc_wait_for(rig.log, "configuration reloaded", from, 10) ||
	      proc_wait_for(rig.log, "keeping the old configuration", from,
			    0.1));
	return from;
}

static void setup(void)
{
	if (!rig_start_mpd(&rig, harness_tmpdir()) ||
	    !listener_make_library(rig.mpd.music, PER_STYLE, TRACK_S) ||
	    !mpdtest_update(&rig.mpd))
		return;
	char root[4400];
	snprintf(root, sizeof root, "%s/other", harness_tmpdir());
	if (!mpdtest_start(&other, root))
		return;
	snprintf(extra, sizeof extra, "%s/extra.conf", rig.root);
	FILE *f = fopen(extra, "w");
	if (!f || fclose(f) != 0)
		return;
	set("mpd.host", "\"127.0.0.1\"");
	set("mpd.port", "%u", rig.mpd.port);
	set("mpd.timeout_ms", "5000");
	set("music_directory", "\"%s\"", rig.mpd.music);
	set("data_directory", "\"%s\"", rig.data);
	set("feedback.min_duration", "0.5");
	set("queue.settle_ms", "50.0");
	set("queue.history_hours", "0.0001");
	set("log.level", "\"debug\"");
	ready = write_conf() && rig_start_daemon(&rig, 30) &&
		listener_wait_analysed(rig.data, 2 * PER_STYLE, 90) ==
			2 * PER_STYLE;
}

static bool send(const char *text)
{
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	bool ok = c && mpd_run_send_message(c, "mpdrec", text);
	if (c)
		mpd_connection_free(c);
	return ok;
}

/* Songs in MPD's queue (-1 when it does not answer). */
static int queue_length(void)
{
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	struct mpd_status *st = c ? mpd_run_status(c) : NULL;
	int n = st ? (int)mpd_status_get_queue_length(st) : -1;
	if (st)
		mpd_status_free(st);
	if (c)
		mpd_connection_free(c);
	return n;
}

static bool wait_queue_length(int n, double timeout_s)
{
	for (double end = proc_now() + timeout_s; proc_now() < end;
	     proc_sleep(0.05))
		if (queue_length() == n)
			return true;
	return false;
}

/* The change of one option logged as applied ("SIGHUP: name: a -> b"). */
static bool applied(long from, const char *name)
{
	char want[128];
	snprintf(want, sizeof want, "SIGHUP: %s: ", name);
	return rig_log_count(rig.log, from, want) == 1;
}

static int n_applied, n_announced;
/* The options changed so far, to check that every one was. */
static char changed[64][64];
static int n_changed;

static void note_changed(const char *name)
{
	for (int i = 0; i < n_changed; i++)
		if (!strcmp(changed[i], name))
			return;
	if (n_changed < 64)
		snprintf(changed[n_changed++], 64, "%s", name);
}

/* One option changed and reloaded; its change must be logged. */
static long change(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static long change(const char *name, const char *fmt, ...)
{
	char value[4400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	set(name, "%s", value);
	long from = reload();
	CHECK_MSG(applied(from, name), "%s = %s: no \"SIGHUP: %s:\" line",
		  name, value, name);
	n_applied++;
	note_changed(name);
	return from;
}

static void test_every_option_reloads(void)
{
	if (!CHECK(ready))
		return;
	/* Labels of both kinds, so a retrain has something to learn. */
	long from = proc_file_size(rig.log);
	CHECK(send("like soft_00.wav") && send("dislike noisy_00.wav") &&
	      send("like soft_01.wav") && send("dislike noisy_01.wav"));
	CHECK(proc_wait_for(rig.log, "dislike noisy_01.wav", from, 10));
	/* The filler: a paused song and queue.ahead songs after it. */
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "soft_02.wav") &&
	      mpd_run_play_pos(c, 0) && mpd_run_pause(c, true));
	mpd_connection_free(c);
	CHECK(wait_queue_length(3, 10));
	change("queue.ahead", "4");
	CHECK_MSG(wait_queue_length(5, 10), "queue.ahead 4: %d songs queued",
		  queue_length());
	change("queue.explore_rate", "0.5");
	change("queue.history_hours", "0.001");
	change("queue.artist_spacing", "1");
	change("queue.settle_ms", "100.0");
	change("queue.keep_played", "10");
	change("queue.include", "[\"path:*.wav\"]");
	change("queue.exclude", "[\"genre:none\"]");

	/* The MPD link: each change reconnects. */
	from = change("mpd.port", "%u", other.port);
	char want[128];
	snprintf(want, sizeof want, "connected to MPD at 127.0.0.1:%u",
		 other.port);
	CHECK_MSG(proc_wait_for(rig.log, want, from, 10), "no \"%s\"", want);
	from = change("mpd.port", "%u", rig.mpd.port);
	snprintf(want, sizeof want, "connected to MPD at 127.0.0.1:%u",
		 rig.mpd.port);
	CHECK(proc_wait_for(rig.log, want, from, 10));
	from = change("mpd.host", "\"127.1\"");
	CHECK(proc_wait_for(rig.log, "connected to MPD at 127.1", from,
			    10));
	from = change("mpd.password", "\"wrong-pw\"");
	CHECK(proc_wait_for(rig.log, "password refused", from, 10));
	unset("mpd.password");
	from = reload();
	CHECK(applied(from, "mpd.password"));
	from = change("mpd.timeout_ms", "6000");
	CHECK(proc_wait_for(rig.log, "connected to MPD at 127.1", from,
			    70));	/* after the refused password's wait */

	/* The scan: a pass with the new settings. */
	from = change("music_directory", "\"%s/.\"", rig.mpd.music);
	CHECK(proc_wait_for(rig.log, "library scan started", from, 10));
	CHECK(proc_wait_for(rig.log, "library scan:", from, 30));
	from = change("analysis.jobs", "1");
	CHECK(proc_wait_for(rig.log, "library scan started", from, 10));
	CHECK(proc_wait_for(rig.log, "library scan:", from, 30));
	from = change("analysis.max_seconds", "60.0");
	CHECK(proc_wait_for(rig.log, "library scan started", from, 10));
	CHECK(proc_wait_for(rig.log, "library scan:", from, 30));

	/* The watcher: a song played to its end is too short now. */
	change("feedback.end_margin", "5.0");
	change("feedback.min_duration", "100.0");
	c = mpdtest_connect(&rig.mpd);
	from = proc_file_size(rig.log);
	CHECK(c && mpd_run_clear(c) && mpd_run_add(c, "noisy_02.wav") &&
	      mpd_run_play_pos(c, 0));
	CHECK(proc_wait_for(rig.log, "no label noisy_02.wav (too short", from,
			    TRACK_S + 5));
	if (c) {
		mpd_run_stop(c);
		mpd_connection_free(c);
	}
	change("feedback.min_duration", "0.5");

	/* Stickers: scores written to MPD. */
	from = change("feedback.stickers", "true");
	CHECK(proc_wait_for(rig.log, "mpdrec_score stickers", from, 10));

	/* The learner: live parameters, then another shape. */
	from = change("model.learning_rate", "0.005");
	CHECK(proc_wait_for(rig.log, "learning now: rate 0.005", from, 5));
	change("model.l2", "0.002");
	change("model.steps_per_event", "2");
	from = change("model.batch", "16");
	CHECK(proc_wait_for(rig.log, "batch 16, 2 steps per event", from, 5));
	change("model.half_life_days", "10.0");
	change("model.seed", "7");
	from = change("model.hidden", "[16]");
	CHECK(proc_wait_for(rig.log, "retrained:", from, 30));
	from = change("model.ensemble", "3");
	CHECK(proc_wait_for(rig.log, "retrained:", from, 30));
	from = change("model.bins", "4");
	CHECK(proc_wait_for(rig.log, "retrained:", from, 30));
	from = change("model.retrain_every", "1");
	CHECK(send("like soft_02.wav"));
	CHECK(proc_wait_for(rig.log, "retraining on", from, 10));
	CHECK(proc_wait_for(rig.log, "retrained:", from, 30));

	/* The log: its level, then its file. */
	from = change("log.level", "\"info\"");
	CHECK(send("dislike noisy_02.wav"));
	CHECK(proc_wait_for(rig.log, "dislike noisy_02.wav", from, 5));
	long quiet = proc_file_size(rig.log);
	CHECK(send("like soft_00.wav"));
	CHECK(proc_wait_for(rig.log, "like soft_00.wav", quiet, 5));
	CHECK_INT(rig_log_count(rig.log, quiet, "debug:"), 0);
	change("log.level", "\"debug\"");
	char file[4400];
	snprintf(file, sizeof file, "%s/elsewhere.log", rig.root);
	set("log.file", "\"%s\"", file);
	CHECK(write_conf());
	kill(rig.pid, SIGHUP);
	CHECK(proc_wait_for(file, "configuration reloaded", 0, 10));
	CHECK(rig_log_count(file, 0, "SIGHUP: log.file: ") == 1);
	n_applied++;
	/* Back to stderr: said there. */
	unset("log.file");
	from = reload();
	CHECK(applied(from, "log.file"));
	CHECK_INT(rig_log_count(file, 0, "SIGHUP: log.file: "), 1);
	note_changed("log.file");

	/* The one a restart applies: announced, and the old one kept. */
	set("data_directory", "\"%s/elsewhere\"", rig.root);
	from = reload();
	CHECK(rig_log_count(rig.log, from, "SIGHUP: data_directory changed "
			    "to") == 1 &&
	      rig_log_count(rig.log, from, "takes effect at the next start") ==
			    1);
	n_announced++;
	note_changed("data_directory");
	from = proc_file_size(rig.log);
	CHECK(send("ban noisy_01.wav"));
	CHECK(proc_wait_for(rig.log, "ban noisy_01.wav", from, 5));
	char elsewhere[4400];
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", rig.root);
	CHECK(access(elsewhere, F_OK) != 0);
	set("data_directory", "\"%s\"", rig.data);
	reload();

	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 20), 0);
	/* The model saved at the stop carries what the reloads set. */
	char err[512];
	struct store *s = store_open(rig.data, err, sizeof err);
	void *blob = NULL;
	size_t size = 0;
	struct model *m = NULL;
	if (CHECK_MSG(s, "%s", err) && CHECK(store_load_model(s, &blob, &size))
	    && CHECK(blob))
		m = model_load(blob, size, err, sizeof err);
	if (CHECK_MSG(m, "%s", err)) {
		const struct model_params *p = model_get_params(m);
		CHECK_NEAR(p->learning_rate, 0.005, 1e-7);
		CHECK_NEAR(p->l2, 0.002, 1e-7);
		CHECK_INT(p->batch, 16);
		CHECK_INT(p->steps_per_event, 2);
		CHECK_NEAR(p->half_life_days, 10, 1e-5);
		CHECK_INT(p->n_hidden, 1);
		CHECK_INT(p->hidden[0], 16);
		CHECK_INT(p->ensemble, 3);
	}
	model_free(m);
	free(blob);
	store_close(s);
	/* Every option of the table was tried. */
	struct conf d;
	int live = 0;
	CHECK(conf_defaults(&d));
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		conf_option_describe(&d, i, &name, NULL, NULL, 0, NULL);
		bool tried = false;
		for (int k = 0; k < n_changed; k++)
			tried |= !strcmp(changed[k], name);
		CHECK_MSG(tried, "%s was not reloaded", name);
		live += conf_option_live(i);
	}
	conf_free(&d);
	printf("all %d reloadable options of the table changed in a running "
	       "daemon (%d reloads) and applied; %d (data_directory) "
	       "announced as taking effect at the next start\n", live,
	       n_applied, n_announced);
	CHECK(rig_start_daemon(&rig, 30));
}

/* Issue 13: a configuration that @includes a FIFO blocked the daemon. */
static void test_fifo_include_blocks_nothing(void)
{
	if (!CHECK(ready) || !CHECK(rig.pid > 0))
		return;
	unlink(extra);
	if (!CHECK(mkfifo(extra, 0600) == 0))
		return;
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	if (!CHECK(c))
		return;
	long from = proc_file_size(rig.log);
	CHECK(mpd_run_clear(c) && mpd_run_add(c, "soft_01.wav") &&
	      mpd_run_add(c, "noisy_01.wav") && mpd_run_play_pos(c, 0));
	CHECK(proc_wait_for(rig.log, "player: play song", from, 5));
	double t0 = proc_now();
	kill(rig.pid, SIGHUP);
	CHECK(proc_wait_for(rig.log, "keeping the old configuration", from,
			    5));
	double refused = proc_now() - t0;
	CHECK(rig_log_count(rig.log, from, "is a FIFO (expected a regular "
			    "file)") == 1);
	/* Listening goes on: a skip, then a like for the song playing. */
	proc_sleep(0.5);
	CHECK(mpd_run_next(c));
	CHECK(proc_wait_for(rig.log, "skipped soft_01.wav", from, 5));
	proc_sleep(0.3);
	CHECK(mpd_run_send_message(c, "mpdrec", "like"));
	CHECK(proc_wait_for(rig.log, "like noisy_01.wav (label 1", from, 5));
	CHECK_INT(rig_log_count(rig.log, from, "like soft_01.wav"), 0);
	mpd_run_stop(c);
	mpd_connection_free(c);
	/* A blocked reader (a daemon that opened it) is let go. */
	int fd = open(extra, O_WRONLY | O_NONBLOCK);
	if (fd >= 0)
		close(fd);
	unlink(extra);
	printf("a reload that @includes a FIFO: refused in %.2f s; the skip "
	       "and the like that followed were recorded, the like for the "
	       "song playing\n", refused);
}

int main(void)
{
	setup();
	RUN(test_every_option_reloads);
	RUN(test_fifo_include_blocks_nothing);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 10);
	mpdtest_stop(&rig.mpd);
	mpdtest_stop(&other);
	return harness_finish();
}
