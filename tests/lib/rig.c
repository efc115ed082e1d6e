#include "tests/lib/rig.h"

#include "core/model.h"
#include "core/store.h"
#include "tests/lib/listener.h"
#include "tests/lib/proc.h"

#include <mpd/client.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

bool rig_start_mpd(struct rig *r, const char *root)
{
	memset(r, 0, sizeof *r);
	r->pid = -1;
	snprintf(r->root, sizeof r->root, "%s", root);
	snprintf(r->data, sizeof r->data, "%s/data", root);
	snprintf(r->conf, sizeof r->conf, "%s/mpdrec.conf", root);
	snprintf(r->log, sizeof r->log, "%s/mpdrec.log", root);
	char mroot[4200];
	snprintf(mroot, sizeof mroot, "%s/mpd", root);
	return mpdtest_start(&r->mpd, mroot);
}

bool rig_mpd_config(struct rig *r, const char *text)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/mpd.conf", r->mpd.dir);
	FILE *f = fopen(path, "a");
	if (!f)
		return false;
	fputs(text, f);
	if (fclose(f) != 0)
		return false;
	return mpdtest_restart(&r->mpd);
}

bool rig_write_conf(struct rig *r, const char *fmt, ...)
{
	FILE *f = fopen(r->conf, "w");
	if (!f)
		return false;
	fprintf(f, "mpd = { host = \"127.0.0.1\"; port = %u; "
		"timeout_ms = 5000;", r->mpd.port);
	if (r->password)
		fprintf(f, " password = \"%s\";", r->password);
	fprintf(f, " };\nmusic_directory = \"%s\";\n"
		"data_directory = \"%s\";\n", r->mpd.music, r->data);
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fputc('\n', f);
	}
	return fclose(f) == 0;
}

bool rig_start_daemon(struct rig *r, double timeout_s)
{
	char *argv[] = { (char *)proc_mpdrec(), "--config", r->conf, "run",
			 NULL };
	long from = proc_file_size(r->log);
	r->pid = proc_spawn(argv, r->log);
	if (r->pid < 0)
		return false;
	double end = proc_now() + timeout_s;
	while (proc_now() < end) {
		if (proc_wait_for(r->log, "connected to MPD", from, 0.02))
			return true;
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			fprintf(stderr, "rig: the daemon exited at start (%d); "
				"see %s\n", WIFEXITED(st) ? WEXITSTATUS(st)
				: 128 + WTERMSIG(st), r->log);
			r->pid = -1;
			return false;
		}
	}
	fprintf(stderr, "rig: the daemon did not connect within %.0f s\n",
		timeout_s);
	return false;
}

int rig_stop_daemon(struct rig *r, int sig, double timeout_s)
{
	if (r->pid <= 0)
		return -2;
	int rc = proc_stop(r->pid, sig, timeout_s, NULL);
	r->pid = -1;
	return rc;
}

int rig_wait_exit(pid_t pid, double timeout_s, double *seconds)
{
	double start = proc_now();
	int st;
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (proc_now() - start > timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (seconds)
				*seconds = proc_now() - start;
			return -1;
		}
		proc_sleep(0.01);
	}
	if (seconds)
		*seconds = proc_now() - start;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

long rig_rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long kb = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int rig_log_count(const char *path, long from, const char *text)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	fseek(f, from, SEEK_SET);
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* "...info: event 12: played soft_03.wav (label 1, weight 1.00)", or
 * "...info: event 13: no label soft_04.wav (stopped)": the kind is one of
 * the store's names (two words for "no label"), the URI runs to the last
 * " (" (the reason has no parentheses; a URI may). */
static bool parse_event(const char *line, struct rig_logged *e)
{
	const char *p = strstr(line, "info: event ");
	if (!p)
		return false;
	p += strlen("info: event ");
	char *end;
	long long id = strtoll(p, &end, 10);
	if (end == p || end[0] != ':' || end[1] != ' ')
		return false;
	p = end + 2;
	/* The kind's name may have a space ("no label"). */
	size_t k = 0;
	for (int kind = STORE_KIND_PLAYED; kind <= STORE_KIND_BAN; kind++) {
		const char *name = store_kind_name((enum store_kind)kind);
		size_t len = strlen(name);
		if (!strncmp(p, name, len) && p[len] == ' ')
			k = len;
	}
	const char *tail = NULL;
	for (const char *q = p + k; (q = strstr(q, " (")); q++)
		tail = q;
	if (k == 0 || k >= sizeof e->kind || !tail || tail <= p + k)
		return false;
	memset(e, 0, sizeof *e);
	e->id = id;
	memcpy(e->kind, p, k);
	p += k + 1;
	size_t u = (size_t)(tail - p);
	if (u >= sizeof e->uri)
		u = sizeof e->uri - 1;
	memcpy(e->uri, p, u);
	return true;
}

bool rig_logged_events(const char *path, long from, struct rig_logged **v,
		       int *n)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	fseek(f, from, SEEK_SET);
	char line[8192];
	bool ok = true;
	struct rig_logged e;
	while (ok && fgets(line, sizeof line, f)) {
		/* A line cut by SIGKILL has no newline: not a whole record
		 * (its event was stored all the same). */
		if (!strchr(line, '\n') || !parse_event(line, &e))
			continue;
		struct rig_logged *nv = realloc(*v, (size_t)(*n + 1) *
						sizeof *nv);
		if (!nv) {
			ok = false;
			break;
		}
		*v = nv;
		(*v)[(*n)++] = e;
	}
	fclose(f);
	return ok;
}

struct collect {
	struct rig_event *v;
	int n, cap;
	bool oom;
};

static bool collect_event(const struct store_event *e, void *ctx)
{
	struct collect *c = ctx;
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 256;
		struct rig_event *nv = realloc(c->v, (size_t)cap * sizeof *nv);
		if (!nv) {
			c->oom = true;
			return false;
		}
		c->v = nv;
		c->cap = cap;
	}
	struct rig_event *o = &c->v[c->n++];
	memset(o, 0, sizeof *o);
	o->id = e->id;
	o->time = e->time;
	o->kind = (int)e->kind;
	o->played = e->played;
	snprintf(o->uri, sizeof o->uri, "%s", e->uri ? e->uri : "");
	return true;
}

static int by_id(const void *a, const void *b)
{
	const struct rig_event *x = a, *y = b;
	return (x->id > y->id) - (x->id < y->id);
}

bool rig_store_events(const char *data_dir, struct rig_event **v, int *n,
		      char *err, size_t err_size)
{
	*v = NULL;
	*n = 0;
	struct store *s = store_open(data_dir, err, err_size);
	if (!s)
		return false;
	int64_t all = 0, labelled = 0;
	struct collect c = { 0 };
	bool ok = store_count_events(s, &all, &labelled);
	if (ok && all > 0)
		ok = store_each_recent_event(s, (int)all, collect_event, &c);
	if (!ok || c.oom)
		snprintf(err, err_size, "reading events: %s",
			 c.oom ? "out of memory" : store_error(s));
	store_close(s);
	if (!ok || c.oom) {
		free(c.v);
		return false;
	}
	qsort(c.v, (size_t)c.n, sizeof *c.v, by_id);
	*v = c.v;
	*n = c.n;
	return true;
}

const struct rig_event *rig_find_event(const struct rig_event *v, int n,
				       int64_t id)
{
	struct rig_event key = { .id = id };
	return bsearch(&key, v, (size_t)n, sizeof *v, by_id);
}

const char *rig_kind_word(int kind)
{
	/* The daemon logs store_kind_name(). */
	return store_kind_name((enum store_kind)kind);
}

static int by_content(const void *a, const void *b)
{
	const struct rig_event *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	int c = strcmp(x->uri, y->uri);
	if (c)
		return c;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return (x->played > y->played) - (x->played < y->played);
}

int rig_duplicate_events(const struct rig_event *v, int n)
{
	if (n < 2)
		return 0;
	struct rig_event *copy = malloc((size_t)n * sizeof *copy);
	if (!copy)
		return -1;
	memcpy(copy, v, (size_t)n * sizeof *copy);
	qsort(copy, (size_t)n, sizeof *copy, by_content);
	int dup = 0;
	for (int i = 1; i < n; i++)
		dup += by_content(&copy[i - 1], &copy[i]) == 0;
	free(copy);
	return dup;
}

bool rig_check_store(const char *data_dir, bool *had_model, char *err,
		     size_t err_size)
{
	*had_model = false;
	struct store *s = store_open(data_dir, err, err_size);
	if (!s)
		return false;
	bool ok = store_check_integrity(s);
	if (!ok)
		snprintf(err, err_size, "integrity_check: %s", store_error(s));
	void *blob = NULL;
	size_t size = 0;
	if (ok && !store_load_model(s, &blob, &size)) {
		snprintf(err, err_size, "store_load_model: %s",
			 store_error(s));
		ok = false;
	}
	if (ok && blob) {
		*had_model = true;
		char why[256];
		struct model *m = model_load(blob, size, why, sizeof why);
		if (!m) {
			snprintf(err, err_size, "model_load (%zu bytes): %s",
				 size, why);
			ok = false;
		}
		model_free(m);
	}
	free(blob);
	store_close(s);
	return ok;
}

bool rig_track_counts(const char *data_dir, int counts[4])
{
	char err[512];
	memset(counts, 0, 4 * sizeof *counts);
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!s)
		return false;
	bool ok = store_count_tracks(s, counts);
	store_close(s);
	return ok;
}

/* --- the listener thread ------------------------------------------------ */

struct rig_listener {
	const struct mpdtest *mpd;
	double skip_s;
	pthread_t thread;
	atomic_int stop;
	atomic_int heard;
	char last[1024];
};

static bool on_song(int n, const char *uri, bool liked, void *ctx)
{
	struct rig_listener *l = ctx;
	(void)n;
	(void)liked;
	/* listener_run starts afresh on every call: the song that was on
	 * when it returned is not a new one. */
	if (strcmp(uri, l->last) != 0)
		atomic_fetch_add(&l->heard, 1);
	snprintf(l->last, sizeof l->last, "%s", uri);
	return !atomic_load(&l->stop);
}

static void *listen_main(void *arg)
{
	struct rig_listener *l = arg;
	struct mpd_connection *c = NULL;
	while (!atomic_load(&l->stop)) {
		if (!c) {
			c = mpdtest_connect(l->mpd);
			if (!c || !mpd_run_consume(c, true)) {
				if (c)
					mpd_connection_free(c);
				c = NULL;
				proc_sleep(0.1);
				continue;
			}
		}
		struct mpd_status *st = mpd_run_status(c);
		if (st) {
			enum mpd_state state = mpd_status_get_state(st);
			unsigned len = mpd_status_get_queue_length(st);
			mpd_status_free(st);
			if (state != MPD_STATE_PLAY && len > 0)
				mpd_run_play(c);
			else if (state != MPD_STATE_PLAY)
				/* Nothing queued: a song of one's own, as a
				 * person starts (mpdrec fills a queue only
				 * once it plays). */
				listener_begin(c, "noisy_00.wav");
		}
		if (mpd_connection_get_error(c) == MPD_ERROR_SUCCESS)
			listener_run(c, l->skip_s, 2.0, on_song, l);
		if (mpd_connection_get_error(c) != MPD_ERROR_SUCCESS &&
		    !(mpd_connection_get_error(c) == MPD_ERROR_SERVER &&
		      mpd_connection_clear_error(c))) {
			mpd_connection_free(c);
			c = NULL;
			proc_sleep(0.1);
		}
	}
	if (c)
		mpd_connection_free(c);
	return NULL;
}

struct rig_listener *rig_listener_start(const struct mpdtest *mpd,
					double skip_s)
{
	struct rig_listener *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->mpd = mpd;
	l->skip_s = skip_s;
	atomic_init(&l->stop, 0);
	atomic_init(&l->heard, 0);
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		free(l);
		return NULL;
	}
	return l;
}

int rig_listener_heard(struct rig_listener *l)
{
	return atomic_load(&l->heard);
}

int rig_listener_stop(struct rig_listener *l)
{
	if (!l)
		return 0;
	atomic_store(&l->stop, 1);
	pthread_join(l->thread, NULL);
	int heard = atomic_load(&l->heard);
	free(l);
	return heard;
}

bool rig_queue_ahead(struct mpd_connection *c, int *ahead, int *state)
{
	struct mpd_status *st = mpd_run_status(c);
	if (!st)
		return false;
	int len = (int)mpd_status_get_queue_length(st);
	int pos = mpd_status_get_song_pos(st);
	*state = (int)mpd_status_get_state(st);
	*ahead = pos >= 0 ? len - pos - 1 : len;
	mpd_status_free(st);
	return true;
}
