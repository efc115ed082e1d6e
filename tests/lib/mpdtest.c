#include "tests/lib/mpdtest.h"

#include <errno.h>
#include <fcntl.h>
#include <mpd/client.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	unsigned port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits until MPD runs no database update; false on an error. */
static bool wait_no_update(struct mpd_connection *c)
{
	for (int i = 0; i < 600; i++) {
		struct mpd_status *st = mpd_run_status(c);
		if (!st)
			return false;
		unsigned job = mpd_status_get_update_id(st);
		mpd_status_free(st);
		if (!job)
			return true;
		sleep_ms(50);
	}
	return false;
}

/* Writes the printf-formatted text to path (made or truncated); false when
 * it cannot. */
__attribute__((format(printf, 2, 3)))
static bool write_text(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f) == 0;
}

static bool write_config(const struct mpdtest *t)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/mpd.conf", t->dir);
	return write_text(path,
		"music_directory \"%s\"\n"
		"db_file \"%s/mpd.db\"\n"
		"sticker_file \"%s/sticker.sql\"\n"
		"log_file \"%s/mpd.log\"\n"
		"bind_to_address \"127.0.0.1\"\n"
		"port \"%u\"\n"
		"auto_update \"no\"\n"
		"zeroconf_enabled \"no\"\n"
		"audio_output {\n"
		"\ttype \"null\"\n"
		"\tname \"null\"\n"
		"\tsync \"yes\"\n"
		"\tmixer_type \"none\"\n"
		"}\n",
		t->music, t->dir, t->dir, t->dir, t->port);
}

static bool spawn(struct mpdtest *t)
{
	char conf[4200], log[4200];
	snprintf(conf, sizeof conf, "%s/mpd.conf", t->dir);
	snprintf(log, sizeof log, "%s/mpd.stderr", t->dir);
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("mpd", "mpd", "--no-daemon", conf, (char *)NULL);
		_exit(127);
	}
	t->pid = pid;
	for (int i = 0; i < 200; i++) {
		struct mpd_connection *c = mpdtest_connect(t);
		if (c) {
			/* Without a database file MPD scans the music
			 * directory at start; a test that writes files
			 * meanwhile would have them read half-written (and,
			 * in the same second, never read again). */
			bool idle = wait_no_update(c);
			mpd_connection_free(c);
			return idle;
		}
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			t->pid = 0;
			fprintf(stderr, "mpdtest: mpd exited at start; see %s\n",
				log);
			return false;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "mpdtest: mpd did not answer on port %u\n", t->port);
	mpdtest_kill(t);
	return false;
}

bool mpdtest_start(struct mpdtest *t, const char *root)
{
	memset(t, 0, sizeof *t);
	snprintf(t->dir, sizeof t->dir, "%s", root);
	snprintf(t->music, sizeof t->music, "%s/music", root);
	mkdir(t->dir, 0700);
	mkdir(t->music, 0700);
	t->port = free_port();
	if (!t->port || !write_config(t)) {
		fprintf(stderr, "mpdtest: cannot prepare %s: %s\n", root,
			strerror(errno));
		return false;
	}
	return spawn(t);
}

bool mpdtest_restart(struct mpdtest *t)
{
	if (t->pid)
		mpdtest_stop(t);
	return spawn(t);
}

static void reap(struct mpdtest *t, int sig, int grace_ms)
{
	if (!t->pid)
		return;
	kill(t->pid, sig);
	for (int waited = 0;; waited += 20) {
		int st;
		if (waitpid(t->pid, &st, WNOHANG) == t->pid)
			break;
		if (waited >= grace_ms && sig != SIGKILL) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			break;
		}
		sleep_ms(20);
	}
	t->pid = 0;
}

void mpdtest_stop(struct mpdtest *t)
{
	reap(t, SIGTERM, 3000);
}

void mpdtest_kill(struct mpdtest *t)
{
	reap(t, SIGKILL, 0);
}

struct mpd_connection *mpdtest_connect(const struct mpdtest *t)
{
	struct mpd_connection *c = mpd_connection_new("127.0.0.1", t->port,
						      5000);
	if (c && mpd_connection_get_error(c) != MPD_ERROR_SUCCESS) {
		mpd_connection_free(c);
		return NULL;
	}
	return c;
}

bool mpdtest_update(const struct mpdtest *t)
{
	struct mpd_connection *c = mpdtest_connect(t);
	if (!c)
		return false;
	bool ok = mpd_run_update(c, NULL) != 0 && wait_no_update(c);
	mpd_connection_free(c);
	return ok;
}

bool mpdtest_write_mpdrec_conf(const struct mpdtest *t, const char *path,
			       const char *music, const char *data,
			       const char *fmt, ...)
{
	char rest[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(rest, sizeof rest, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rest)
		return false;
	return write_text(path,
			  "mpd = { host = \"127.0.0.1\"; port = %u; };\n"
			  "music_directory = \"%s\";\n"
			  "data_directory = \"%s\";\n%s",
			  t->port, music ? music : t->music, data, rest);
}
