/* The command line, as a user meets it: the real binary (proc_mpdrec())
 * run with its output captured. --help and --version everywhere; exit
 * status 0 ok, 1 runtime failure, 2 usage or configuration error;
 * check-config shows every option and its source, refuses a bad file with
 * file:line and its own message per fault, warns about unknown keys, and
 * never shows a password; status, recommend and like on an empty data
 * directory or without MPD fail (or not) plainly. On a filled store: the
 * global options after the command, check-config's checks beyond the
 * syntax, export feeding eval, show by path, status in words, recommend's
 * explanations, the artist bans and their undo, and where --daemon logs.
 *
 * Every run gets a private environment: XDG_CONFIG_HOME, XDG_DATA_HOME and
 * HOME point into the test's directory and MPD_HOST/MPD_PORT are unset, so
 * nothing of the machine's own configuration leaks in. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/store.h"
#include "daemon/version.h"
#include "features/table.h"
#include "tests/lib/harness.h"
#include "tests/lib/mpdtest.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <mpd/client.h>

#include <math.h>

#define MAX_ARGS 16
#define RUN_TIMEOUT_S 30.0

static char bin[4096];
/* When set, run() sends stdout there (a device: /dev/full) and keeps none
 * of it. */
static const char *stdout_to;

/* What one run printed and how it ended. */
struct res {
	int status;	/* exit status, 128+signal, or -1 (timeout) */
	char *out;	/* stdout, NUL-terminated, owned */
	char *err;	/* stderr */
	char cmd[1024];	/* for messages */
};

static void res_free(struct res *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static char *slurp(const char *path)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");
	FILE *m = open_memstream(&s, &n);
	if (f && m) {
		char buf[4096];
		size_t got;
		while ((got = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, got, m);
	}
	if (f)
		fclose(f);
	if (m)
		fclose(m);
	return s ? s : strdup("");
}

static const char *tmp(const char *name)
{
	static char buf[8][4200];
	static int i;
	char *p = buf[i++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", harness_tmpdir(), name);
	return p;
}

/* Runs mpdrec with the arguments after `env` (NULL-terminated). env is
 * NULL or a NULL-terminated list of "NAME=value" set on top of the private
 * environment. Returns the exit status (also in r->status). */
static int run(struct res *r, const char *const *env, ...)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = bin;
	va_list ap;
	va_start(ap, env);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc <= MAX_ARGS)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	size_t len = 0;
	r->cmd[0] = '\0';
	for (int i = 0; env && env[i]; i++)
		len += (size_t)snprintf(r->cmd + len, sizeof r->cmd - len,
					"%s ", env[i]);
	for (int i = 0; i < argc && len < sizeof r->cmd; i++)
		len += (size_t)snprintf(r->cmd + len, sizeof r->cmd - len,
					"%s%s", i ? " " : "mpdrec",
					i ? argv[i] : "");

	const char *out = tmp("stdout.txt"), *err = tmp("stderr.txt");
	pid_t pid = fork();
	if (pid == 0) {
		setenv("XDG_CONFIG_HOME", tmp("xdg-config"), 1);
		setenv("XDG_DATA_HOME", tmp("xdg-data"), 1);
		setenv("HOME", tmp("home"), 1);
		unsetenv("MPD_HOST");
		unsetenv("MPD_PORT");
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		int in = open("/dev/null", O_RDONLY);
		int o = stdout_to ? open(stdout_to, O_WRONLY) :
			    open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || o < 0 || e < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execv(bin, argv);
		_exit(127);
	}
	r->status = -1;
	if (pid > 0) {
		double end = proc_now() + RUN_TIMEOUT_S;
		int st;
		pid_t w;
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 &&
		       proc_now() < end)
			proc_sleep(0.01);
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			CHECK_MSG(false, "%s: still running after %.0f s",
				  r->cmd, RUN_TIMEOUT_S);
		} else if (w == pid) {
			r->status = WIFEXITED(st) ? WEXITSTATUS(st)
						  : 128 + WTERMSIG(st);
		}
	}
	r->out = stdout_to ? strdup("") : slurp(out);
	r->err = slurp(err);
	if (getenv("HARNESS_VERBOSE"))
		fprintf(stderr, "$ %s  -> %d\n--- stdout\n%s--- stderr\n%s",
			r->cmd, r->status, r->out, r->err);
	return r->status;
}

/* Checks the exit status, showing the command and its output if wrong. */
#define CHECK_EXIT(r, want)                                                   \
	CHECK_MSG((r).status == (want),                                       \
		  "%s: exit %d, want %d\n--- stdout\n%s--- stderr\n%s",       \
		  (r).cmd, (r).status, (want), (r).out, (r).err)
#define CHECK_HAS(r, where, text)                                             \
	CHECK_MSG(strstr((r).where, (text)) != NULL,                          \
		  "%s: %s lacks \"%s\"\n--- stdout\n%s--- stderr\n%s",        \
		  (r).cmd, #where, (text), (r).out, (r).err)
#define CHECK_LACKS(r, where, text)                                           \
	CHECK_MSG(strstr((r).where, (text)) == NULL,                          \
		  "%s: %s shows \"%s\"\n--- stdout\n%s--- stderr\n%s",        \
		  (r).cmd, #where, (text), (r).out, (r).err)

static const char *write_file(const char *name, const char *text)
{
	const char *path = tmp(name);
	FILE *f = fopen(path, "w");
	if (!CHECK_MSG(f != NULL, "%s: %s", path, strerror(errno)))
		return path;
	fputs(text, f);
	fclose(f);
	return path;
}

/* The line of check-config's output for option `name`, copied into buf
 * ("" when absent). */
static const char *option_line(const char *out, const char *name, char *buf,
			       size_t size)
{
	buf[0] = '\0';
	size_t n = strlen(name);
	for (const char *p = out; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > n && !strncmp(p, name, n) && p[n] == ' ') {
			snprintf(buf, size, "%.*s", (int)len, p);
			return buf;
		}
		p = eol ? eol + 1 : NULL;
	}
	return buf;
}

/* --- help and version -------------------------------------------------- */

static void test_help_and_version(void)
{
	struct res r;
	run(&r, NULL, "--help", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "usage: mpdrec");
	res_free(&r);
	run(&r, NULL, "-h", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "usage: mpdrec");
	res_free(&r);
	run(&r, NULL, "--version", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "mpdrec " MPDREC_VERSION);
	res_free(&r);
	run(&r, NULL, "-V", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "mpdrec " MPDREC_VERSION);
	res_free(&r);
	run(&r, NULL, "status", "--help", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "usage: mpdrec status");
	res_free(&r);
	run(&r, NULL, "eval", "--version", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "mpdrec " MPDREC_VERSION);
	res_free(&r);
}

/* Every command the top-level help lists answers --help and --version,
 * and DESIGN.md's commands are all there. */
static void test_every_command_has_help(void)
{
	struct res top;
	run(&top, NULL, "--help", NULL);
	const char *list = strstr(top.out, "commands:\n");
	if (!CHECK_HAS(top, out, "commands:\n")) {
		res_free(&top);
		return;
	}
	char names[32][32];
	int n = 0;
	for (const char *p = strchr(list, '\n') + 1; *p == ' ' && n < 32;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " \n");
		snprintf(names[n++], sizeof names[0], "%.*s", (int)len, p);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	static const char *const design[] = {
		"run", "analyze", "recommend", "status", "like", "dislike",
		"train", "eval", "export", "report", "check-config",
	};
	for (size_t i = 0; i < sizeof design / sizeof *design; i++) {
		bool found = false;
		for (int j = 0; j < n; j++)
			found |= !strcmp(names[j], design[i]);
		CHECK_MSG(found, "mpdrec --help does not list '%s'",
			  design[i]);
	}
	for (int j = 0; j < n; j++) {
		struct res r;
		char want[1100];
		snprintf(want, sizeof want, "usage: mpdrec %s", names[j]);
		run(&r, NULL, names[j], "--help", NULL);
		CHECK_EXIT(r, 0);
		CHECK_HAS(r, out, want);
		res_free(&r);
		run(&r, NULL, names[j], "--version", NULL);
		CHECK_EXIT(r, 0);
		CHECK_HAS(r, out, "mpdrec " MPDREC_VERSION);
		res_free(&r);
	}
	res_free(&top);
}

static void test_unknown_command(void)
{
	struct res r;
	run(&r, NULL, "frobnicate", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "unknown command 'frobnicate'");
	CHECK_LACKS(r, out, "frobnicate");
	res_free(&r);
	run(&r, NULL, "--frobnicate", NULL);
	CHECK_EXIT(r, 2);
	res_free(&r);
	run(&r, NULL, "status", "extra", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "usage");
	res_free(&r);
	run(&r, NULL, "check-config", "a.conf", "b.conf", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "usage");
	res_free(&r);
}

/* --- check-config ------------------------------------------------------ */

static void test_check_config_good_file(void)
{
	const char *path = write_file("good.conf",
		"# a good file\n"
		"data_directory = \"/tmp/mpdrec-cli-test-data\";\n"
		"queue = { ahead = 4; explore_rate = 0.25; };\n"
		"model = { hidden = [16, 8]; };\n"
		"log = { level = \"debug\"; };\n");
	const char *env[] = { "MPD_PORT=6612", NULL };
	struct res r;
	run(&r, env, "check-config", path, NULL);
	CHECK_EXIT(r, 0);
	CHECK_MSG(r.err[0] == '\0', "%s: stderr: %s", r.cmd, r.err);
	CHECK_HAS(r, out, path);
	/* Every option of the table, each with one of the three sources. */
	struct conf defaults;
	CHECK(conf_defaults(&defaults));
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name, *help;
		char value[256], line[1024];
		enum conf_source src;
		if (!CHECK(conf_option_describe(&defaults, i, &name, &help,
						value, sizeof value, &src)))
			continue;
		option_line(r.out, name, line, sizeof line);
		if (!CHECK_MSG(line[0], "check-config lacks %s:\n%s", name,
			       r.out))
			continue;
		CHECK_MSG(strstr(line, "file") || strstr(line, "default") ||
			  strstr(line, "environment"),
			  "no source on: %s", line);
	}
	conf_free(&defaults);
	static const struct {
		const char *name, *value, *source;
	} want[] = {
		{ "queue.ahead", "4", "file" },
		{ "queue.explore_rate", "0.25", "file" },
		{ "model.hidden", "16, 8", "file" },
		{ "data_directory", "/tmp/mpdrec-cli-test-data", "file" },
		{ "log.level", "debug", "file" },
		{ "mpd.port", "6612", "environment" },
		{ "queue.history_hours", "", "default" },
		{ "feedback.end_margin", "", "default" },
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		char line[1024];
		option_line(r.out, want[i].name, line, sizeof line);
		CHECK_MSG(strstr(line, want[i].value) &&
			  strstr(line, want[i].source),
			  "%s: want %s from %s, got: %s", want[i].name,
			  want[i].value, want[i].source, line);
		/* "file" must not also be claimed by a default line */
		if (!strcmp(want[i].source, "default"))
			CHECK_MSG(!strstr(line, "file"), "%s", line);
	}
	res_free(&r);
}

static void test_check_config_syntax_error(void)
{
	const char *path = write_file("syntax.conf",
		"queue = { ahead = 4; };\n"
		"# line 2\n"
		"model = { batch = = 8; };\n"
		"log = { level = \"info\"; };\n");
	struct res r;
	run(&r, NULL, "check-config", path, NULL);
	CHECK_EXIT(r, 2);
	char want[4300];
	snprintf(want, sizeof want, "%s:3:", path);
	CHECK_HAS(r, err, want);
	CHECK_HAS(r, err, "syntax");
	CHECK_LACKS(r, out, "queue.ahead");	/* nothing listed */
	res_free(&r);
	/* The same file given with --config to any command. */
	run(&r, NULL, "--config", path, "status", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, want);
	res_free(&r);
}

static void test_check_config_wrong_type_and_bounds(void)
{
	const char *type = write_file("type.conf",
		"queue = {\n"
		"\tahead = \"four\";\n"
		"};\n");
	struct res t;
	run(&t, NULL, "check-config", type, NULL);
	CHECK_EXIT(t, 2);
	char want[4300];
	snprintf(want, sizeof want, "%s:2: queue.ahead:", type);
	CHECK_HAS(t, err, want);
	CHECK_HAS(t, err, "type");
	CHECK_HAS(t, err, "expected");
	CHECK_LACKS(t, err, "bounds");
	CHECK_LACKS(t, err, "syntax");

	const char *bounds = write_file("bounds.conf",
		"feedback = {\n"
		"\n"
		"\tend_margin = -5.0;\n"
		"};\n");
	struct res b;
	run(&b, NULL, "check-config", bounds, NULL);
	CHECK_EXIT(b, 2);
	snprintf(want, sizeof want, "%s:3: feedback.end_margin:", bounds);
	CHECK_HAS(b, err, want);
	CHECK_HAS(b, err, "-5");
	CHECK_HAS(b, err, "expected");
	CHECK_LACKS(b, err, "type");
	CHECK_LACKS(b, err, "syntax");
	/* Their own messages: the two differ beyond the file name. */
	const char *mt = strstr(t.err, "queue.ahead:");
	const char *mb = strstr(b.err, "feedback.end_margin:");
	if (mt && mb)
		CHECK_MSG(strcmp(mt + strlen("queue.ahead:"),
				 mb + strlen("feedback.end_margin:")) != 0,
			  "same message for a wrong type and a bound: %s", mt);
	res_free(&t);
	res_free(&b);

	/* An integer option given a fraction is a wrong type or a bound,
	 * never accepted silently. */
	const char *frac = write_file("frac.conf",
				      "queue = { ahead = 2.5; };\n");
	run(&t, NULL, "check-config", frac, NULL);
	CHECK_EXIT(t, 2);
	CHECK_HAS(t, err, "queue.ahead");
	res_free(&t);
}

static void test_check_config_unknown_key(void)
{
	const char *path = write_file("unknown.conf",
		"queue = {\n"
		"\tahead = 3;\n"
		"\tahaed = 4;\n"
		"};\n"
		"colour = \"blue\";\n");
	struct res r;
	run(&r, NULL, "check-config", path, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, err, "ahaed");
	CHECK_HAS(r, err, "colour");
	CHECK_HAS(r, err, "warning");
	char line[1024];
	option_line(r.out, "queue.ahead", line, sizeof line);
	CHECK_MSG(strstr(line, "3") && strstr(line, "file"), "%s", line);
	res_free(&r);
}

/* The password never shows: from MPD_HOST (password@host) or the file. */
static void test_password_never_printed(void)
{
	const char *env[] = { "MPD_HOST=secret@localhost", NULL };
	struct res r;
	run(&r, env, "check-config", NULL);
	CHECK_EXIT(r, 0);
	CHECK_LACKS(r, out, "secret");
	CHECK_LACKS(r, err, "secret");
	char line[1024];
	option_line(r.out, "mpd.host", line, sizeof line);
	CHECK_MSG(strstr(line, "localhost") && strstr(line, "environment"),
		  "mpd.host: %s", line);
	option_line(r.out, "mpd.password", line, sizeof line);
	CHECK_MSG(line[0] && strstr(line, "environment"), "mpd.password: %s",
		  line);
	res_free(&r);

	const char *path = write_file("password.conf",
		"mpd = { host = \"example.invalid\";\n"
		"\tpassword = \"hunter2\"; };\n");
	run(&r, env, "check-config", path, NULL);
	CHECK_EXIT(r, 0);
	CHECK_LACKS(r, out, "hunter2");
	CHECK_LACKS(r, err, "hunter2");
	CHECK_LACKS(r, out, "secret");
	CHECK_LACKS(r, err, "secret");
	option_line(r.out, "mpd.host", line, sizeof line);
	CHECK_MSG(strstr(line, "example.invalid") && strstr(line, "file"),
		  "the file's host wins over MPD_HOST: %s", line);
	res_free(&r);
}

/* An explicit file to check replaces the one the search finds: a broken
 * installed configuration must not stop a user from checking a fixed one. */
static void test_check_config_file_beats_found_one(void)
{
	char dir[4300];
	snprintf(dir, sizeof dir, "%s/mpdrec", tmp("xdg-config"));
	mkdir(tmp("xdg-config"), 0700);
	mkdir(dir, 0700);
	char found[4400];
	snprintf(found, sizeof found, "%s/mpdrec.conf", dir);
	FILE *f = fopen(found, "w");
	if (!CHECK(f != NULL))
		return;
	fputs("queue = { ahead = ; };\n", f);
	fclose(f);
	const char *fixed = write_file("fixed.conf",
				       "queue = { ahead = 5; };\n");
	struct res r;
	run(&r, NULL, "check-config", fixed, NULL);
	CHECK_EXIT(r, 0);
	char line[1024];
	option_line(r.out, "queue.ahead", line, sizeof line);
	CHECK_MSG(strstr(line, "5") && strstr(line, "file"),
		  "queue.ahead: %s", line);
	res_free(&r);
	/* The found one alone is refused, naming itself. */
	run(&r, NULL, "check-config", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, found);
	res_free(&r);
	unlink(found);
}

static void test_missing_config_file(void)
{
	struct res r;
	run(&r, NULL, "--config", "/nonexistent/mpdrec.conf", "status", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "/nonexistent/mpdrec.conf");
	CHECK_MSG(strstr(r.err, "No such file") || strstr(r.err, "cannot"),
		  "unclear: %s", r.err);
	CHECK_MSG(r.out[0] == '\0', "stdout: %s", r.out);
	res_free(&r);
	run(&r, NULL, "check-config", "/nonexistent/mpdrec.conf", NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "/nonexistent/mpdrec.conf");
	res_free(&r);
}

/* --- commands on an empty data directory ------------------------------- */

/* A port nothing listens on (bound, then closed). */
static unsigned closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	unsigned port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static const char *empty_config(const char *name, const char *data)
{
	char text[9000];
	snprintf(text, sizeof text,
		 "data_directory = \"%s\";\n"
		 "mpd = { host = \"127.0.0.1\"; port = %u;\n"
		 "\ttimeout_ms = 3000; };\n",
		 data, closed_port());
	return write_file(name, text);
}

/* Every number on the line that starts with `label` is 0 (and there are
 * at least `min` of them). */
static void check_zeros(const struct res *r, const char *label, int min)
{
	const char *p = strstr(r->out, label);
	if (!CHECK_MSG(p != NULL, "%s: no '%s' line:\n%s", r->cmd, label,
		       r->out))
		return;
	int numbers = 0;
	for (; *p && *p != '\n'; p++) {
		if (*p >= '0' && *p <= '9') {
			long v = strtol(p, (char **)&p, 10);
			CHECK_MSG(v == 0, "%s: %ld on: %s", r->cmd, v, label);
			numbers++;
			p--;
		}
	}
	CHECK_MSG(numbers >= min, "%s: %d numbers on '%s'", r->cmd, numbers,
		  label);
}

static void test_status_on_empty_data(void)
{
	const char *data = tmp("empty-data/mpdrec");
	const char *conf = empty_config("empty.conf", data);
	struct res r;
	run(&r, NULL, "--config", conf, "status", NULL);
	CHECK_EXIT(r, 0);
	check_zeros(&r, "tracks:", 4);
	check_zeros(&r, "events:", 2);
	res_free(&r);
	struct stat st;
	if (CHECK_MSG(stat(data, &st) == 0, "%s not created", data))
		CHECK_MSG((st.st_mode & 0777) == 0700, "%s is %o", data,
			  (unsigned)(st.st_mode & 0777));
}

static void test_recommend_before_analysis(void)
{
	const char *conf = empty_config("rec.conf", tmp("rec-data"));
	struct res r;
	run(&r, NULL, "--config", conf, "recommend", NULL);
	CHECK_EXIT(r, 1);
	CHECK_HAS(r, err, "analy");	/* analyse / analyze first */
	res_free(&r);
}

static void test_like_without_mpd(void)
{
	const char *conf = empty_config("nompd.conf", tmp("nompd-data"));
	struct res r;
	double t0 = proc_now();
	run(&r, NULL, "--config", conf, "like", NULL);
	CHECK_EXIT(r, 1);
	CHECK_HAS(r, err, "MPD");
	CHECK_MSG(strstr(r.err, "connect") || strstr(r.err, "refused"),
		  "unclear: %s", r.err);
	CHECK_MSG(proc_now() - t0 < 10, "took %.1f s", proc_now() - t0);
	res_free(&r);
	/* The password of MPD_HOST does not show in the error either. */
	char port[32];
	snprintf(port, sizeof port, "MPD_PORT=%u", closed_port());
	const char *env[] = { "MPD_HOST=secret@127.0.0.1", port, NULL };
	run(&r, env, "dislike", NULL);
	CHECK_EXIT(r, 1);
	CHECK_LACKS(r, out, "secret");
	CHECK_LACKS(r, err, "secret");
	res_free(&r);
}


/* --- a filled store ------------------------------------------------------ */

/* tmp() and write_file() return one of a few rotating buffers, which
 * run() uses too: a path kept across runs is copied (freed at exit). */
static char *kept[64];
static int n_kept;

static void free_kept(void)
{
	for (int i = 0; i < n_kept; i++)
		free(kept[i]);
}

static const char *keep(const char *path)
{
	if (n_kept == 0)
		atexit(free_kept);
	if (n_kept == 64)
		return path;
	return kept[n_kept++] = strdup(path);
}

#define SONGS 48
#define LABELLED 32

static uint64_t seed = 88172645463325252ull;

static double uniform01(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (double)(seed >> 11) / 9007199254740992.0;
}

/* SONGS analysed tracks by 4 artists, the louder half liked: the first
 * LABELLED were played to the end or skipped, the rest never heard; 5
 * files failed; picks with scores; one retrain without validation. The
 * caller's config points data_directory at data. */
static void fill(const char *data)
{
	char err[512];
	struct store *s = store_open(data, err, sizeof err);
	if (!CHECK_MSG(s != NULL, "%s", err))
		return;
	int dim = features_count();
	float v[FEAT_COUNT];
	char uri[128], title[64], artist[64];
	CHECK(store_sync_begin(s));
	for (int i = 0; i < SONGS + 5; i++) {
		snprintf(uri, sizeof uri, "Artist %d/Album %d/song%02d.ogg",
			 i % 4, i % 4, i);
		snprintf(title, sizeof title, "Song Number %d", i);
		snprintf(artist, sizeof artist, "Artist %d", i % 4);
		struct store_track_info t = { uri, 1600000000 + i, artist,
					      "Album", title, "Test", 200 };
		CHECK(store_sync_track(s, &t));
	}
	CHECK(store_sync_end(s, NULL));
	for (int i = 0; i < SONGS + 5; i++) {
		snprintf(uri, sizeof uri, "Artist %d/Album %d/song%02d.ogg",
			 i % 4, i % 4, i);
		if (i >= SONGS) {
			char why[64];
			snprintf(why, sizeof why, "not audio (test %d)", i);
			CHECK(store_set_failed(s, uri, why));
			continue;
		}
		for (int j = 0; j < dim; j++)
			v[j] = (float)(j + uniform01());
		double loud = -20 + 12 * uniform01();
		v[FEAT_LOUDNESS] = (float)loud;
		v[FEAT_TEMPO] = (float)(90 + 60 * uniform01());
		CHECK(store_set_features(s, uri, FEATURES_VERSION, v, dim,
					 200));
		if (i >= LABELLED)
			continue;
		bool like = loud > -14;
		struct store_event e = {
			.time = 1700000000 + 60 * i, .uri = uri,
			.kind = like ? STORE_KIND_PLAYED : STORE_KIND_SKIPPED,
			.played = like ? 200 : 10, .duration = 200,
			.label = like, .weight = 1, .source = "watch",
		};
		CHECK(store_add_event(s, &e));
		struct store_pick pk = { .time = e.time - 1, .uri = uri,
					 .score = like ? 0.7 : 0.4,
					 .uncertainty = 0.1,
					 .reason = "test" };
		CHECK(store_add_pick(s, &pk, NULL));
		CHECK(store_set_pick_outcome(s, uri, like));
	}
	CHECK(store_add_training(s, 1700002000, 20, 0.95, NAN, NAN, NAN));
	store_close(s);
}

static const char *filled_config(const char *name, const char *data,
				 const char *music)
{
	char text[9000];
	snprintf(text, sizeof text,
		 "data_directory = \"%s\";\n"
		 "%s%s%s"
		 "mpd = { host = \"127.0.0.1\"; port = %u;\n"
		 "\ttimeout_ms = 3000; };\n",
		 data, music ? "music_directory = \"" : "", music ? music : "",
		 music ? "\";\n" : "", closed_port());
	return write_file(name, text);
}

static void test_global_options_after_command(void)
{
	const char *conf = keep(empty_config("global.conf",
					     tmp("global-data")));
	struct res r;
	run(&r, NULL, "status", "-v", "--config", conf, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, err, "debug");
	CHECK_HAS(r, out, tmp("global-data"));
	res_free(&r);
	run(&r, NULL, "recommend", "--config", conf, NULL);
	CHECK_EXIT(r, 1);	/* nothing analysed, not a usage error */
	CHECK_HAS(r, err, "analy");
	CHECK_LACKS(r, err, "unrecognized");
	res_free(&r);
	char eq[4300];
	snprintf(eq, sizeof eq, "--config=%s", conf);
	run(&r, NULL, "status", eq, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, tmp("global-data"));
	res_free(&r);
	run(&r, NULL, "status", "--config", NULL);
	CHECK_EXIT(r, 2);
	res_free(&r);
}

/* Counts the lines of text that contain word, and the times it appears:
 * each warning says "warning" once. */
static void check_once_per_line(const struct res *r, const char *text,
				const char *word)
{
	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[2048];
		snprintf(line, sizeof line, "%.*s", (int)len, p);
		const char *a = strstr(line, word);
		CHECK_MSG(!a || !strstr(a + 1, word), "%s: twice: %s", r->cmd,
			  line);
		p = eol ? eol + 1 : NULL;
	}
}

static void test_check_config_checks(void)
{
	struct res r;
	/* The music directory must exist and be readable. */
	const char *missing = keep(write_file("nomusic.conf",
		"music_directory = \"/nonexistent/music\";\n"));
	run(&r, NULL, "check-config", missing, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, out, "ERROR    music_directory \"/nonexistent/music\"");
	CHECK_HAS(r, out, "No such file");
	CHECK_HAS(r, err, "1 error");
	res_free(&r);
	/* host:port in the host says where the port goes. */
	const char *hostport = keep(write_file("hostport.conf",
		"mpd = { host = \"localhost:6600\"; };\n"));
	run(&r, NULL, "check-config", hostport, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, out, "holds a port");
	CHECK_HAS(r, out, "host = \"localhost\"; port = 6600;");
	res_free(&r);
	/* A misspelt music_directory is an error naming the right one. */
	const char *typo = keep(write_file("typo.conf",
				      "music_dir = \"/srv/music\";\n"));
	run(&r, NULL, "check-config", typo, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "did you mean music_directory?");
	res_free(&r);
	/* yes is not a boolean. */
	const char *yes = keep(write_file("yes.conf",
				     "feedback = { stickers = yes; };\n"));
	run(&r, NULL, "check-config", yes, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "booleans are true or false");
	CHECK_HAS(r, err, "stickers = true;");
	res_free(&r);
	/* Warnings say "warning" once. */
	const char *inner = keep(write_file("inner.conf",
				       "queue = { ahaed = 4; };\n"));
	run(&r, NULL, "check-config", inner, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, err, "warning");
	CHECK_HAS(r, err, "did you mean queue.ahead?");
	check_once_per_line(&r, r.err, "warning");
	res_free(&r);
	/* A readable directory and an MPD that is not running: fine, with a
	 * warning; then a real MPD answers. */
	mkdir(tmp("cc-music"), 0755);
	write_file("cc-music/a.ogg", "x");
	char text[9000];
	snprintf(text, sizeof text,
		 "music_directory = \"%s\";\ndata_directory = \"%s\";\n"
		 "mpd = { host = \"127.0.0.1\"; port = %u; };\n",
		 tmp("cc-music"), tmp("cc-data"), closed_port());
	const char *down = keep(write_file("down.conf", text));
	run(&r, NULL, "check-config", down, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "ok       music_directory");
	CHECK_HAS(r, out, "does not answer");
	CHECK_MSG(r.err[0] == '\0', "stderr: %s", r.err);
	res_free(&r);
	struct mpdtest mpd;
	if (!CHECK(mpdtest_start(&mpd, tmp("cc-mpd"))))
		return;
	snprintf(text, sizeof text,
		 "music_directory = \"%s\";\ndata_directory = \"%s\";\n"
		 "mpd = { host = \"127.0.0.1\"; port = %u; };\n",
		 tmp("cc-music"), tmp("cc-data"), mpd.port);
	const char *up = keep(write_file("up.conf", text));
	run(&r, NULL, "check-config", up, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "answers (protocol");
	res_free(&r);
	mpdtest_stop(&mpd);
}

/* Lines of a file. */
static int lines_of(const char *path, int *empty_label)
{
	char *text = slurp(path);
	int n = 0;
	*empty_label = 0;
	for (char *p = text; *p;) {
		char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 0) {
			n++;
			/* the label is the last field: "," then CR or end */
			*empty_label += len >= 2 && p[len - 1] == '\r' &&
					p[len - 2] == ',';
		}
		p = eol ? eol + 1 : p + len;
	}
	free(text);
	return n;
}

static void test_export_feeds_eval(void)
{
	const char *data = keep(tmp("filled-export"));
	fill(data);
	const char *conf = keep(filled_config("export.conf", data, NULL));
	const char *csv = keep(tmp("lib.csv"));
	struct res r;
	run(&r, NULL, "--config", conf, "export", "--csv", csv, NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
	int empty;
	CHECK_INT(lines_of(csv, &empty), 1 + LABELLED);
	CHECK_INT(empty, 0);
	run(&r, NULL, "--config", conf, "eval", "--csv", csv, "--label",
	    "label", "--folds", "3", NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "accuracy");
	res_free(&r);
	/* --all: every analysed track, unheard ones without a label. */
	const char *all = keep(tmp("all.csv"));
	run(&r, NULL, "--config", conf, "export", "--csv", "--all", all,
	    NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
	CHECK_INT(lines_of(all, &empty), 1 + SONGS);
	CHECK_INT(empty, SONGS - LABELLED);
}

static void test_show_by_path(void)
{
	const char *data = keep(tmp("filled-show"));
	fill(data);
	const char *music = keep(tmp("show-music"));
	char dir[4300], file[4400];
	snprintf(dir, sizeof dir, "%s/Artist 1/Album 1", music);
	mkdir(music, 0755);
	snprintf(file, sizeof file, "%s/Artist 1", music);
	mkdir(file, 0755);
	mkdir(dir, 0755);
	snprintf(file, sizeof file, "%s/song05.ogg", dir);
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
	const char *conf = keep(filled_config("show.conf", data, music));
	struct res r;
	run(&r, NULL, "--config", conf, "show", file, NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "Artist 1/Album 1/song05.ogg");
	CHECK_HAS(r, out, "title: Song Number 5");
	CHECK_HAS(r, out, "artist: Artist 1");
	CHECK_HAS(r, out, "loudness");
	res_free(&r);
	/* the same track by its URI */
	run(&r, NULL, "--config", conf, "show", "Artist 1/Album 1/song05.ogg",
	    NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "title: Song Number 5");
	res_free(&r);
	/* a file elsewhere: pointed to --file */
	const char *outside = keep(write_file("outside.ogg", "x"));
	run(&r, NULL, "--config", conf, "show", outside, NULL);
	CHECK_EXIT(r, 1);
	CHECK_HAS(r, err, "not under music_directory");
	CHECK_HAS(r, err, "--file");
	res_free(&r);
}

static void test_status_in_words(void)
{
	const char *data = keep(tmp("filled-status"));
	fill(data);
	const char *conf = keep(filled_config("status.conf", data, NULL));
	struct res r;
	run(&r, NULL, "--config", conf, "status", NULL);
	CHECK_EXIT(r, 0);
	char want[128];
	snprintf(want, sizeof want, "%d analysed, 5 failed, 0 waiting",
		 SONGS);
	CHECK_HAS(r, out, want);
	CHECK_HAS(r, out, "failed:    5 files mpdrec cannot analyse");
	CHECK_HAS(r, out, "not audio (test 48)");
	CHECK_HAS(r, out, "taste:     You play to the end music that is "
			  "louder");
	CHECK_HAS(r, out, "by artist");
	CHECK_HAS(r, out, "Artist 1 ");
	CHECK_HAS(r, out, "scored the liked ones higher 100% of the time");
	CHECK_HAS(r, out, "too few for a validation split");
	CHECK_LACKS(r, out, "nan");
	CHECK_LACKS(r, out, "not retrained yet");
	res_free(&r);
	run(&r, NULL, "--config", conf, "status", "--failed", NULL);
	CHECK_EXIT(r, 0);
	for (int i = SONGS; i < SONGS + 5; i++) {
		snprintf(want, sizeof want, "song%02d.ogg: not audio (test %d)",
			 i, i);
		CHECK_HAS(r, out, want);
	}
	res_free(&r);
}

/* The evidence named by recommend --explain: the quoted titles of each
 * explanation line, in order. */
static int explanations(const char *out, char lines[][512], int max)
{
	int n = 0;
	for (const char *p = out; p && *p && n < max;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > 6 && !strncmp(p, "      ", 6))
			snprintf(lines[n++], 512, "%.*s", (int)len - 6, p + 6);
		p = eol ? eol + 1 : NULL;
	}
	return n;
}

static void test_recommend_explains_in_words(void)
{
	const char *data = keep(tmp("filled-explain"));
	fill(data);
	const char *conf = keep(filled_config("explain.conf", data, NULL));
	struct res r;
	run(&r, NULL, "--config", conf, "recommend", "-n", "6", "--explain",
	    NULL);
	CHECK_EXIT(r, 0);
	char lines[8][512];
	int n = explanations(r.out, lines, 8);
	CHECK_INT(n, 6);
	int distinct = 0;
	for (int i = 0; i < n; i++) {
		static const char like[] = "Like \xe2\x80\x9cSong Number ";
		CHECK_MSG(!strncmp(lines[i], like, strlen(like)) ||
			  !strncmp(lines[i], "Unlike anything", 15),
			  "not a sentence: %s", lines[i]);
		CHECK_MSG(strstr(lines[i], "than what you skip") ||
			  strstr(lines[i], "Unlike"), "no contrast: %s",
			  lines[i]);
		/* the first track named differs from the previous pick's */
		distinct += i == 0 || strncmp(lines[i], lines[i - 1], 30);
	}
	CHECK_MSG(distinct >= 4, "the same evidence again and again:\n%s",
		  r.out);
	/* words, not feature names and coefficients */
	CHECK_LACKS(r, out, "mfcc");
	CHECK_LACKS(r, out, "pushed by");
	res_free(&r);
}

static void test_ban_artist_and_undo(void)
{
	const char *data = keep(tmp("filled-ban"));
	fill(data);
	const char *conf = keep(filled_config("ban.conf", data, NULL));
	struct res r;
	run(&r, NULL, "--config", conf, "ban", "--artist", "Artist 2", NULL);
	CHECK_EXIT(r, 0);
	char want[128];
	snprintf(want, sizeof want, "banned the artist \"Artist 2\" (%d "
		 "tracks known)", (SONGS + 5 + 1) / 4);
	CHECK_HAS(r, out, want);
	CHECK_HAS(r, out, "no mpdrec daemon was reached");
	res_free(&r);
	run(&r, NULL, "--config", conf, "recommend", "-n", "100", NULL);
	CHECK_EXIT(r, 0);
	CHECK_LACKS(r, out, "Artist 2/");
	CHECK_HAS(r, out, "Artist 1/");
	res_free(&r);
	run(&r, NULL, "--config", conf, "unban", "--artist", "Artist 2",
	    NULL);
	CHECK_EXIT(r, 0);
	CHECK_HAS(r, out, "lifted the ban of the artist \"Artist 2\"");
	res_free(&r);
	run(&r, NULL, "--config", conf, "recommend", "-n", "100", NULL);
	CHECK_HAS(r, out, "Artist 2/");
	res_free(&r);
	/* unlike: a like withdrawn, the event kept */
	char err[256];
	struct store *s = store_open(data, err, sizeof err);
	int64_t all0 = 0, lab0 = 0, all1 = 0, lab1 = 0;
	CHECK(s && store_count_events(s, &all0, &lab0));
	store_close(s);
	const char *liked = NULL;
	static char uri[128];
	for (int i = 0; i < LABELLED && !liked; i++) {
		snprintf(uri, sizeof uri, "Artist %d/Album %d/song%02d.ogg",
			 i % 4, i % 4, i);
		run(&r, NULL, "--config", conf, "unlike", uri, NULL);
		if (strstr(r.out, "withdrew 1 like"))
			liked = uri;
		res_free(&r);
	}
	CHECK(liked != NULL);
	s = store_open(data, err, sizeof err);
	CHECK(s && store_count_events(s, &all1, &lab1));
	store_close(s);
	CHECK_INT(all1, all0);
	CHECK_INT(lab1, lab0 - 1);
}

static void test_daemon_logs_to_state_dir(void)
{
	const char *conf = keep(empty_config("bg.conf", tmp("bg-data")));
	const char *pidfile = keep(tmp("bg.pid"));
	char state[4300], env_state[4400];
	snprintf(state, sizeof state, "%s", tmp("state"));
	snprintf(env_state, sizeof env_state, "XDG_STATE_HOME=%s", state);
	const char *env[] = { env_state, NULL };
	struct res r;
	run(&r, env, "--config", conf, "run", "--daemon", "--pidfile", pidfile,
	    NULL);
	CHECK_EXIT(r, 0);
	char log[4500], dir[4400];
	snprintf(dir, sizeof dir, "%s/mpdrec", state);
	snprintf(log, sizeof log, "%s/mpdrec.log", dir);
	CHECK_HAS(r, err, log);
	res_free(&r);
	CHECK_MSG(proc_wait_for(log, "mpdrec", 0, 10), "nothing in %s", log);
	struct stat st;
	if (CHECK(stat(log, &st) == 0))
		CHECK_MSG((st.st_mode & 0777) == 0600, "log is %o",
			  (unsigned)(st.st_mode & 0777));
	if (CHECK(stat(dir, &st) == 0))
		CHECK_MSG((st.st_mode & 0777) == 0700, "dir is %o",
			  (unsigned)(st.st_mode & 0777));
	/* Stop the daemon it started, by its pid. */
	double end = proc_now() + 5;
	char *pid_text = NULL;
	while (proc_now() < end) {
		pid_text = slurp(pidfile);
		if (atoi(pid_text) > 0)
			break;
		free(pid_text);
		pid_text = NULL;
		proc_sleep(0.05);
	}
	pid_t pid = pid_text ? (pid_t)atoi(pid_text) : 0;
	free(pid_text);
	if (!CHECK_MSG(pid > 0, "no pid in %s", pidfile))
		return;
	kill(pid, SIGTERM);
	end = proc_now() + 10;
	while (kill(pid, 0) == 0 && proc_now() < end)
		proc_sleep(0.05);
	CHECK_MSG(kill(pid, 0) != 0, "daemon %d still running", (int)pid);
	if (kill(pid, 0) == 0)
		kill(pid, SIGKILL);
}

/* A running daemon hears the bans and their undo at once: from the
 * command line and from any client on the channel. */
static void test_daemon_applies_bans(void)
{
	struct rig rig = { .pid = -1 };
	const char *root = keep(tmp("ban-rig"));
	mkdir(root, 0700);
	if (!CHECK(rig_start_mpd(&rig, root)))
		return;
	float x[44100];
	for (int i = 0; i < 44100; i++)
		x[i] = (float)(0.3 * sin(i * 0.05));
	char path[4400];
	snprintf(path, sizeof path, "%s/one.wav", rig.mpd.music);
	CHECK(harness_write_track(path, x, 44100, 44100));
	if (!CHECK(mpdtest_update(&rig.mpd)) ||
	    !CHECK(rig_write_conf(&rig, NULL)) ||
	    !CHECK(rig_start_daemon(&rig, 20))) {
		rig_stop_daemon(&rig, SIGTERM, 5);
		mpdtest_stop(&rig.mpd);
		return;
	}
	struct res r;
	long from = proc_file_size(rig.log);
	run(&r, NULL, "--config", rig.conf, "ban", "--artist", "Some Band",
	    NULL);
	CHECK_EXIT(r, 0);
	CHECK_LACKS(r, out, "no mpdrec daemon was reached");
	res_free(&r);
	CHECK_MSG(proc_wait_for(rig.log, "ban-artist Some Band", from, 10),
		  "the daemon did not hear it: see %s", rig.log);
	/* any client: the daemon writes the ban itself */
	struct mpd_connection *c = mpdtest_connect(&rig.mpd);
	CHECK(c && mpd_run_send_message(c, "mpdrec", "ban-album Long Album"));
	if (c)
		mpd_connection_free(c);
	CHECK(proc_wait_for(rig.log, "ban-album Long Album", from, 10));
	rig_stop_daemon(&rig, SIGTERM, 10);
	mpdtest_stop(&rig.mpd);
	char err[256];
	struct store *s = store_open(rig.data, err, sizeof err);
	int tracks = -1, changed = -1;
	if (CHECK(s != NULL)) {
		CHECK(store_count_group(s, STORE_GROUP_ALBUM, "Long Album",
					&tracks));
		/* banned already: nothing changes */
		CHECK(store_ban_group(s, STORE_GROUP_ALBUM, "Long Album", true,
				      &changed));
		CHECK_INT(changed, 0);
	}
	store_close(s);
}

/* --- issue 13: output that cannot be written, the report's path, the
 * feedback commands' bounds --------------------------------------------- */

/* `> /dev/full`: every command that prints exits 1 and says why (they
 * exited 0). */
static void test_unwritable_output_fails(void)
{
	char conf[4200];	/* tmp()'s buffers rotate */
	snprintf(conf, sizeof conf, "%s",
		 empty_config("full.conf", tmp("full-data")));
	const char *cmds[][3] = {
		{ "--version", NULL, NULL },
		{ "--help", NULL, NULL },
		{ "status", "--help", NULL },
		{ "--config", conf, "status" },
		{ "--config", conf, "check-config" },
		{ "check-config", conf, NULL },
	};
	stdout_to = "/dev/full";
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		struct res r;
		run(&r, NULL, cmds[i][0], cmds[i][1], cmds[i][2], NULL);
		CHECK_EXIT(r, 1);
		CHECK_HAS(r, err, "cannot write the output");
		res_free(&r);
	}
	stdout_to = NULL;
	/* The same commands to a file are fine. */
	struct res r;
	run(&r, NULL, "--config", conf, "status", NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
}

/* Issue 13: `report --html PATH` renamed a temporary file over PATH: run
 * as root on /dev/full it replaced the device node; a link was replaced
 * instead of written through. */
static void test_report_writes_what_the_path_is(void)
{
	char conf[4200];	/* tmp()'s buffers rotate */
	snprintf(conf, sizeof conf, "%s",
		 empty_config("report.conf", tmp("report-data")));
	struct res r;
	struct stat st;
	/* A device: an error, and the device stays. A node of our own like
	 * /dev/full (1, 7), so a broken mpdrec replaces no system file. */
	char dev[4200];
	snprintf(dev, sizeof dev, "%s", tmp("full-device"));
	const char *device = mknod(dev, S_IFCHR | 0666, makedev(1, 7)) == 0 ?
			     dev : "/dev/full";
	run(&r, NULL, "--config", conf, "report", "--html", device, NULL);
	CHECK_EXIT(r, 1);
	CHECK_HAS(r, err, ": No space left");
	res_free(&r);
	CHECK(stat(device, &st) == 0 && S_ISCHR(st.st_mode));
	/* A regular file keeps its mode; a link is written through. */
	char page[4200], link[4200], dangling[4200], made[4200], fifo[4200];
	snprintf(page, sizeof page, "%s", tmp("page.html"));
	snprintf(link, sizeof link, "%s", tmp("link.html"));
	snprintf(dangling, sizeof dangling, "%s", tmp("dangling.html"));
	snprintf(made, sizeof made, "%s", tmp("made.html"));
	snprintf(fifo, sizeof fifo, "%s", tmp("report.fifo"));
	write_file("page.html", "old");
	CHECK(chmod(page, 0640) == 0);
	CHECK(symlink(page, link) == 0);
	run(&r, NULL, "--config", conf, "report", "--html", link, NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(stat(page, &st) == 0 && (st.st_mode & 0777) == 0640 &&
	      st.st_size > 1000);
	/* A link to a file that does not exist yet. */
	CHECK(symlink(made, dangling) == 0);
	run(&r, NULL, "--config", conf, "report", "--html", dangling, NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
	CHECK(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(stat(made, &st) == 0 && st.st_size > 1000);
	/* A pipe: read by someone, never replaced. */
	CHECK(mkfifo(fifo, 0600) == 0);
	char cmd[9000];
	snprintf(cmd, sizeof cmd, "timeout 20 cat '%s' > '%s' 2>/dev/null &",
		 fifo, tmp("from-fifo.html"));
	CHECK_INT(system(cmd), 0);
	run(&r, NULL, "--config", conf, "report", "--html", fifo, NULL);
	CHECK_EXIT(r, 0);
	res_free(&r);
	CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	for (int i = 0; i < 100 && (stat(tmp("from-fifo.html"), &st) != 0 ||
				    st.st_size < 1000); i++)
		proc_sleep(0.02);
	CHECK(st.st_size > 1000);
	/* A directory: refused. */
	run(&r, NULL, "--config", conf, "report", "--html",
	    harness_tmpdir(), NULL);
	CHECK_EXIT(r, 1);
	CHECK_HAS(r, err, "is a directory");
	res_free(&r);
}

/* A URI longer than a channel message holds was cut silently. */
static void test_feedback_uri_bound(void)
{
	char conf[4200];	/* tmp()'s buffers rotate */
	snprintf(conf, sizeof conf, "%s",
		 empty_config("bound.conf", tmp("bound-data")));
	char uri[1100];
	memset(uri, 'u', sizeof uri - 1);
	uri[sizeof uri - 1] = '\0';
	struct res r;
	uri[1019] = '\0';	/* "like " + 1,019 = 1,024: the bound */
	run(&r, NULL, "--config", conf, "like", uri, NULL);
	CHECK_EXIT(r, 1);	/* fits; then no MPD */
	CHECK_LACKS(r, err, "at most");
	res_free(&r);
	uri[1019] = 'u';
	uri[1020] = '\0';
	run(&r, NULL, "--config", conf, "like", uri, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "the URI is 1020 bytes long");
	CHECK_HAS(r, err, "a URI at most 1019");
	res_free(&r);
	run(&r, NULL, "--config", conf, "dislike", uri, NULL);
	CHECK_EXIT(r, 2);
	CHECK_HAS(r, err, "a URI at most 1016");
	res_free(&r);
}

int main(void)
{
	/* Absolute: the runs do not depend on the current directory. */
	if (!realpath(proc_mpdrec(), bin)) {
		fprintf(stderr, "test_cli: no binary at %s "
			"(make build/mpdrec)\n", proc_mpdrec());
		return 1;
	}
	mkdir(tmp("home"), 0700);
	RUN(test_help_and_version);
	RUN(test_every_command_has_help);
	RUN(test_unknown_command);
	RUN(test_check_config_good_file);
	RUN(test_check_config_syntax_error);
	RUN(test_check_config_wrong_type_and_bounds);
	RUN(test_check_config_unknown_key);
	RUN(test_password_never_printed);
	RUN(test_check_config_file_beats_found_one);
	RUN(test_missing_config_file);
	RUN(test_status_on_empty_data);
	RUN(test_recommend_before_analysis);
	RUN(test_like_without_mpd);
	RUN(test_global_options_after_command);
	RUN(test_check_config_checks);
	RUN(test_export_feeds_eval);
	RUN(test_show_by_path);
	RUN(test_status_in_words);
	RUN(test_recommend_explains_in_words);
	RUN(test_ban_artist_and_undo);
	RUN(test_daemon_logs_to_state_dir);
	RUN(test_daemon_applies_bans);
	RUN(test_unwritable_output_fails);
	RUN(test_report_writes_what_the_path_is);
	RUN(test_feedback_uri_bound);
	return harness_finish();
}
