/* The command line, as a user meets it: the real binary (proc_mpdrec())
 * run with its output captured. --help and --version everywhere; exit
 * status 0 ok, 1 runtime failure, 2 usage or configuration error;
 * check-config shows every option and its source, refuses a bad file with
 * file:line and its own message per fault, warns about unknown keys, and
 * never shows a password; status, recommend and like on an empty data
 * directory or without MPD fail (or not) plainly.
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
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"

#define MAX_ARGS 16
#define RUN_TIMEOUT_S 30.0

static char bin[4096];

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
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
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
	r->out = slurp(out);
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
	return harness_finish();
}
