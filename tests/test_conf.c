/* conf: the option table, the example file, error messages, environment,
 * search order, `~` expansion and the password never shown. Run from the
 * repository root (conf/mpdrec.conf is read from there). */
#include "conf/conf.h"
#include "core/model.h"
#include "daemon/learn.h"
#include "features/table.h"
#include "tests/lib/harness.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXAMPLE "conf/mpdrec.conf"

static char saved_home[4096];

static void set_env(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static bool is_zeroed(const struct conf *c)
{
	static const struct conf zero;
	return memcmp(c, &zero, sizeof zero) == 0;
}

/* Writes text into harness_tmpdir()/name; returns the path (static buffer,
 * valid until the next call). */
static const char *write_file(const char *name, const char *text)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
	return path;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	int ch;
	while ((ch = fgetc(f)) != EOF)
		fputc(ch, m);
	fclose(m);
	fclose(f);
	return buf;
}

/* Loads `text` as a file; err holds the message. */
static bool load_text(struct conf *c, const char *text, char *err,
		      size_t err_size)
{
	const char *path = write_file("t.conf", text);
	return conf_load(c, path, err, err_size);
}

/* Writes "group = { key = value; };" (or "key = value;") for a dotted name. */
static void option_line(char *buf, size_t n, const char *name,
			const char *value)
{
	const char *dot = strchr(name, '.');
	if (dot)
		snprintf(buf, n, "%.*s = {\n\t%s = %s;\n};\n",
			 (int)(dot - name), name, dot + 1, value);
	else
		snprintf(buf, n, "%s = %s;\n", name, value);
}

static const char *value_of(const struct conf *c, const char *name, char *buf,
			    size_t n)
{
	int i = conf_option_index(name);
	if (i < 0 || !conf_option_describe(c, (size_t)i, NULL, NULL, buf, n,
					   NULL))
		snprintf(buf, n, "(no option %s)", name);
	return buf;
}

static enum conf_source source_of(const struct conf *c, const char *name)
{
	int i = conf_option_index(name);
	return i < 0 ? (enum conf_source)-1 : (enum conf_source)c->source[i];
}

/* ---- the table and the defaults ---- */

static void test_table_walk(void)
{
	struct conf c;
	CHECK(conf_defaults(&c));
	size_t n = conf_option_count();
	CHECK(n > 0 && n <= sizeof c.source);
	for (size_t i = 0; i < n; i++) {
		const char *name = NULL, *help = NULL;
		char value[128];
		enum conf_source src = CONF_SOURCE_FILE;
		CHECK(conf_option_describe(&c, i, &name, &help, value,
					   sizeof value, &src));
		CHECK_MSG(name && help && *help, "option %zu has no help", i);
		CHECK_INT(conf_option_index(name), i);
		CHECK_INT(src, CONF_SOURCE_DEFAULT);
		CHECK(conf_option_equal(&c, &c, i));
		for (size_t j = 0; j < i; j++) {
			const char *other;
			conf_option_describe(&c, j, &other, NULL, NULL, 0,
					     NULL);
			CHECK_MSG(strcmp(name, other) != 0, "%s twice", name);
		}
	}
	CHECK(!conf_option_describe(&c, n, NULL, NULL, NULL, 0, NULL));
	CHECK_INT(conf_option_index("queue.nope"), -1);

	/* The defaults DESIGN.md and the brief name. */
	CHECK_INT(c.queue.ahead, 2);
	CHECK_NEAR(c.queue.explore_rate, 0.15, 0);
	CHECK_NEAR(c.feedback.end_margin, 10, 0);
	CHECK(!c.feedback.stickers);
	CHECK_INT(c.model.n_hidden, 2);
	CHECK_INT(c.model.hidden[0], 64);
	CHECK_INT(c.model.hidden[1], 32);
	CHECK_INT(c.model.ensemble, 5);
	CHECK_INT(c.analysis.jobs, 0);
	CHECK_INT(c.log.level, CONF_LOG_INFO);
	CHECK(!c.mpd.host && !c.mpd.password && c.mpd.port == 0);
	CHECK(!c.music_directory && !c.log.file && !c.warnings && !c.path);
	char v[64];
	CHECK_STR(value_of(&c, "model.hidden", v, sizeof v), "[64, 32]");
	CHECK_STR(value_of(&c, "log.level", v, sizeof v), "\"info\"");
	CHECK_STR(value_of(&c, "mpd.host", v, sizeof v), "(unset)");
	conf_free(&c);
	CHECK(is_zeroed(&c));
	conf_free(&c); /* a zeroed struct is fine */
}

static void test_data_directory_default(void)
{
	char *xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME"))
					    : NULL;
	struct conf c;
	set_env("XDG_DATA_HOME", "/srv/xdg-data");
	CHECK(conf_defaults(&c));
	CHECK_STR(c.data_directory, "/srv/xdg-data/mpdrec");
	conf_free(&c);

	set_env("HOME", "/home/tester");
	set_env("XDG_DATA_HOME", NULL);
	CHECK(conf_defaults(&c));
	CHECK_STR(c.data_directory, "/home/tester/.local/share/mpdrec");
	conf_free(&c);

	/* The XDG spec: a relative value is ignored. */
	set_env("XDG_DATA_HOME", "relative/data");
	CHECK(conf_defaults(&c));
	CHECK_STR(c.data_directory, "/home/tester/.local/share/mpdrec");
	conf_free(&c);

	set_env("XDG_DATA_HOME", xdg);
	set_env("HOME", saved_home);
	free(xdg);
}

/* ---- the example file ---- */

static void test_example_is_defaults(void)
{
	struct conf d, c;
	char err[CONF_ERR_SIZE];
	CHECK(conf_defaults(&d));
	if (!CHECK_MSG(conf_load(&c, EXAMPLE, err, sizeof err), "%s", err))
		goto out;
	CHECK_MSG(!c.warnings, "warnings: %s", c.warnings);
	CHECK_STR(c.path, EXAMPLE);
	char *text = read_all(EXAMPLE);
	CHECK(text != NULL);
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		char dv[128], cv[128];
		conf_option_describe(&d, i, &name, NULL, dv, sizeof dv, NULL);
		conf_option_describe(&c, i, NULL, NULL, cv, sizeof cv, NULL);
		CHECK_MSG(conf_option_equal(&d, &c, i),
			  "%s: example %s, default %s", name, cv, dv);
		CHECK_STR(cv, dv);
		/* Options set by default are written out; the others are
		 * shown commented out ("#key = "). */
		if (strcmp(dv, "(unset)") != 0 &&
		    strcmp(name, "data_directory") != 0 &&
		    strcmp(name, "mpd.port") != 0) {
			CHECK_MSG(c.source[i] == CONF_SOURCE_FILE,
				  "%s is not set in the example", name);
		} else {
			const char *dot = strrchr(name, '.');
			char pat[80];
			snprintf(pat, sizeof pat, "#%s = ", dot ? dot + 1 : name);
			CHECK_MSG(c.source[i] == CONF_SOURCE_DEFAULT,
				  "%s should stay unset in the example", name);
			CHECK_MSG(text && strstr(text, pat),
				  "example lacks '%s'", pat);
		}
	}
	free(text);
	conf_free(&c);
out:
	conf_free(&d);
}

/* The comparison above must notice a changed value. */
static void test_example_change_is_noticed(void)
{
	char *text = read_all(EXAMPLE);
	if (!CHECK(text != NULL))
		return;
	const char *edits[][3] = {
		{ "ahead = 2;", "ahead = 3;", "queue.ahead" },
		{ "hidden = [64, 32];", "hidden = [64, 16];", "model.hidden" },
		{ "level = \"info\";", "level = \"debug\";", "log.level" },
		{ "stickers = false;", "stickers = true;", "feedback.stickers" },
	};
	for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
		char *at = strstr(text, edits[e][0]);
		if (!CHECK_MSG(at, "example lacks %s", edits[e][0]))
			continue;
		char *copy;
		if (asprintf(&copy, "%.*s%s%s", (int)(at - text), text,
			     edits[e][1], at + strlen(edits[e][0])) < 0)
			abort();
		struct conf d, c;
		char err[CONF_ERR_SIZE];
		CHECK(conf_defaults(&d));
		CHECK_MSG(load_text(&c, copy, err, sizeof err), "%s", err);
		for (size_t i = 0; i < conf_option_count(); i++) {
			const char *name;
			conf_option_describe(&d, i, &name, NULL, NULL, 0, NULL);
			bool changed = strcmp(name, edits[e][2]) == 0;
			CHECK_MSG(conf_option_equal(&d, &c, i) == !changed,
				  "%s after editing %s", name, edits[e][2]);
		}
		conf_free(&c);
		conf_free(&d);
		free(copy);
	}
	free(text);
}

/* ---- errors ---- */

/* Loads text, expects failure with `want` in the message and *c zeroed. */
static void expect_error(const char *text, const char *want)
{
	struct conf c;
	char err[CONF_ERR_SIZE];
	bool ok = load_text(&c, text, err, sizeof err);
	CHECK_MSG(!ok, "accepted: %s", text);
	CHECK_MSG(strstr(err, want) != NULL, "message \"%s\" lacks \"%s\"",
		  err, want);
	char prefix[4096];
	snprintf(prefix, sizeof prefix, "%s/t.conf:", harness_tmpdir());
	CHECK_MSG(strncmp(err, prefix, strlen(prefix)) == 0,
		  "message \"%s\" does not start with the file", err);
	CHECK(is_zeroed(&c));
	conf_free(&c);
}

static void test_syntax_error(void)
{
	expect_error("queue = {\n\tahead = 2;\n\texplore_rate = ;\n};\n",
		     "t.conf:3: syntax error (expected");
	expect_error("log = {\n\tlevel = \"info\";\n\tlevel = \"debug\";\n};\n",
		     "t.conf:3: syntax error: duplicate setting name");
	expect_error("# ok\nmusic_directory = \"/music\";\n\nqueue = {\n\tahead 2;\n};\n",
		     "t.conf:5: syntax error");
}

static void test_wrong_type(void)
{
	expect_error("queue = {\n\tahead = \"two\";\n};\n",
		     "t.conf:2: queue.ahead: wrong type, got a string "
		     "(expected an integer from 1 to 100)");
	expect_error("queue = { ahead = 2.5; };\n",
		     "t.conf:1: queue.ahead: wrong type, got a number with a "
		     "fraction (expected an integer");
	expect_error("\n\nfeedback = { stickers = 1; };\n",
		     "t.conf:3: feedback.stickers: wrong type, got an integer "
		     "(expected true or false)");
	expect_error("music_directory = 3;\n",
		     "t.conf:1: music_directory: wrong type, got an integer "
		     "(expected an absolute path");
	expect_error("queue = {\n\texplore_rate = \"high\";\n};\n",
		     "t.conf:2: queue.explore_rate: wrong type, got a string "
		     "(expected a number from 0 to 1)");
	expect_error("queue = 3;\n", "t.conf:1: queue: wrong type, got an "
				     "integer (expected a group");
	expect_error("mpd = {\n\thost = { a = 1; };\n};\n",
		     "t.conf:2: mpd.host: wrong type, got a group");
	expect_error("model = { hidden = 64; };\n",
		     "t.conf:1: model.hidden: wrong type, got an integer "
		     "(expected an array of 1 to 4 integers");
	expect_error("model = { hidden = (64,\n\"x\"); };\n",
		     "t.conf:2: model.hidden: wrong type, layer 2 is a string");
	expect_error("log = { level = 3; };\n",
		     "t.conf:1: log.level: wrong type, got an integer "
		     "(expected one of \"error\"");
	/* The first problem in the file is the one reported. */
	expect_error("queue = { ahead = 0; };\nlog = { level = 3; };\n",
		     "t.conf:1: queue.ahead: 0 is out of bounds");
}

static void test_out_of_bounds(void)
{
	expect_error("\nqueue = { explore_rate = 1.5; };\n",
		     "t.conf:2: queue.explore_rate: 1.5 is out of bounds "
		     "(expected a number from 0 to 1)");
	expect_error("mpd = {\n\tport = -1;\n};\n",
		     "t.conf:2: mpd.port: -1 is out of bounds (expected an "
		     "integer from 0 to 65535)");
	expect_error("model = { hidden = [8, 8, 8, 8, 8]; };\n",
		     "model.hidden: 5 layers is out of bounds");
	expect_error("model = { hidden = []; };\n",
		     "model.hidden: 0 layers is out of bounds");
	expect_error("model = { hidden = [64, 0]; };\n",
		     "model.hidden: layer 2: 0 is out of bounds");
	expect_error("log = {\n\tlevel = \"verbose\";\n};\n",
		     "t.conf:2: log.level: unknown level \"verbose\" "
		     "(expected one of");
	expect_error("music_directory = \"music\";\n",
		     "t.conf:1: music_directory: relative path \"music\"");
	expect_error("mpd = { password = \"\"; };\n",
		     "t.conf:1: mpd.password: empty");
}

/* Every numeric option: min and max accepted, a hair beyond refused. */
static void test_bounds_edges(void)
{
	for (size_t i = 0; i < conf_option_count(); i++) {
		double lo, hi;
		bool integer;
		const char *name;
		struct conf c;
		conf_defaults(&c);
		conf_option_describe(&c, i, &name, NULL, NULL, 0, NULL);
		conf_free(&c);
		if (!conf_option_bounds(i, &lo, &hi, &integer))
			continue;
		bool list = strcmp(name, "model.hidden") == 0;
		double edge[4] = { lo, hi, 0, 0 };
		if (integer) {
			edge[2] = lo - 1;
			edge[3] = hi + 1;
		} else {
			edge[2] = lo - fmax(fabs(lo) * 1e-9, 1e-12);
			edge[3] = hi + fmax(fabs(hi) * 1e-9, 1e-12);
		}
		for (int k = 0; k < 4; k++) {
			char num[64], val[80], text[256], err[CONF_ERR_SIZE];
			if (integer)
				snprintf(num, sizeof num, "%.0f", edge[k]);
			else
				snprintf(num, sizeof num, "%.17g", edge[k]);
			snprintf(val, sizeof val, list ? "[%s]" : "%s", num);
			option_line(text, sizeof text, name, val);
			bool ok = load_text(&c, text, err, sizeof err);
			if (k < 2) {
				char got[80], want[80];
				CHECK_MSG(ok, "%s = %s refused: %s", name, val,
					  err);
				value_of(&c, name, got, sizeof got);
				if (integer)
					snprintf(want, sizeof want,
						 list ? "[%.0f]" : "%.0f",
						 edge[k]);
				else
					snprintf(want, sizeof want, "%.10g",
						 edge[k]);
				CHECK_STR(got, want);
				CHECK_INT(source_of(&c, name),
					  CONF_SOURCE_FILE);
			} else {
				CHECK_MSG(!ok, "%s = %s accepted", name, val);
				CHECK_MSG(strstr(err, name) &&
					  strstr(err, "out of bounds"),
					  "%s = %s: %s", name, val, err);
				CHECK(is_zeroed(&c));
			}
			conf_free(&c);
		}
	}
}

static void test_missing_file(void)
{
	struct conf c;
	char err[CONF_ERR_SIZE], path[4096];
	snprintf(path, sizeof path, "%s/absent.conf", harness_tmpdir());
	CHECK(!conf_load(&c, path, err, sizeof err));
	CHECK_MSG(strstr(err, "absent.conf: cannot read: No such file"),
		  "%s", err);
	CHECK(is_zeroed(&c));
	CHECK(!conf_load(&c, harness_tmpdir(), err, sizeof err));
	CHECK_MSG(strstr(err, ": cannot read: Is a directory"), "%s", err);
	CHECK(is_zeroed(&c));
}

/* @include is relative to the including file, not to the working
 * directory; an error inside names the included file. */
static void test_include(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/inc", harness_tmpdir());
	CHECK_INT(harness_system("mkdir -p '%s'", dir), 0);
	write_file("inc/more.conf", "queue = { ahead = 7; };\n");
	const char *main_conf = write_file("inc/main.conf",
					   "@include \"more.conf\"\n");
	struct conf c;
	char err[CONF_ERR_SIZE];
	CHECK_MSG(conf_load(&c, main_conf, err, sizeof err), "%s", err);
	CHECK_INT(c.queue.ahead, 7);
	conf_free(&c);

	write_file("inc/more.conf", "\nqueue = { ahead = 700; };\n");
	main_conf = write_file("inc/main.conf", "@include \"more.conf\"\n");
	CHECK(!conf_load(&c, main_conf, err, sizeof err));
	CHECK_MSG(strstr(err, "more.conf:2: queue.ahead: 700 is out of "
			      "bounds"), "%s", err);
}

/* conf_load in a child, bounded: libconfig blocks in open() on a FIFO
 * until someone writes to it. Returns 1 when it loaded, 0 when it refused
 * (the message in err), -1 when it did not return within 5 s. */
static int load_bounded(const char *path, char *err, size_t err_size)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		struct conf c;
		char e[CONF_ERR_SIZE];
		bool ok = conf_load(&c, path, e, sizeof e);
		ssize_t w = write(fds[1], e, strlen(e) + 1);
		(void)w;
		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	int st = 0, rc = -1;
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			rc = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			break;
		}
		usleep(10000);
	}
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	ssize_t n = read(fds[0], err, err_size - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	return rc;
}

/* Issue 13: an @include of a FIFO blocked the daemon's reload. Only
 * regular files are read: the main file and every file it includes. */
static void test_only_regular_files(void)
{
	char dir[4096], fifo[4200], err[CONF_ERR_SIZE];
	snprintf(dir, sizeof dir, "%s/fifo", harness_tmpdir());
	CHECK_INT(harness_system("mkdir -p '%s'", dir), 0);
	snprintf(fifo, sizeof fifo, "%s/pipe.conf", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	write_file("fifo/ok.conf", "queue = { ahead = 5; };\n");
	write_file("fifo/nested.conf", "\n@include \"pipe.conf\"\n");
	const char *cases[][2] = {
		{ "fifo/direct.conf", "@include \"pipe.conf\"\n" },
		{ "fifo/indented.conf", "log = { level = \"info\"; };\n"
					"  @include \"ok.conf\"\n"
					"\t@include \"pipe.conf\"\n" },
		{ "fifo/deep.conf", "@include \"nested.conf\"\n" },
		{ "fifo/dir.conf", "@include \".\"\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *path = write_file(cases[i][0], cases[i][1]);
		int rc = load_bounded(path, err, sizeof err);
		CHECK_MSG(rc == 0, "%s: %s", cases[i][0],
			  rc < 0 ? "blocked for 5 s" : "loaded");
		CHECK_MSG(strstr(err, "@include") &&
			  strstr(err, "expected a regular file"), "%s: %s",
			  cases[i][0], err);
	}
	CHECK(strstr(err, "is a directory"));
	/* The error names the including file and line. */
	const char *path = write_file("fifo/indented.conf",
				      "log = { level = \"info\"; };\n"
				      "\t@include \"pipe.conf\"\n");
	CHECK_INT(load_bounded(path, err, sizeof err), 0);
	CHECK_MSG(strstr(err, "indented.conf:2: @include \"pipe.conf\": ") &&
		  strstr(err, "is a FIFO"), "%s", err);
	/* The main file itself. */
	CHECK_INT(load_bounded(fifo, err, sizeof err), 0);
	CHECK_MSG(strstr(err, "pipe.conf: cannot read: it is a FIFO"), "%s",
		  err);
	/* A name with NUL bytes: libconfig reads it up to the first
	 * (`@include "\0..."` names the include directory itself) and its
	 * scanner, given a directory, exits the process; a lone backslash
	 * it drops. Such names are refused with a reason, and the loader is
	 * still alive. */
	static const char nul_cases[][48] = {
		"@include \"\0\0other.conf\"\n",
		"@include \"\0\n\"\nqueue = { ahead = 2; };\n",
		/* a lone backslash, and a NUL after it */
		"@include \"\\\0\x0f;clude \"\n",
		"@include \"a\\nb.conf\"\n",
	};
	static const size_t nul_len[] = { 24, 38, 22, 21 };
	for (size_t i = 0; i < sizeof nul_len / sizeof *nul_len; i++) {
		char name[4300];
		snprintf(name, sizeof name, "%s/fifo/nul%zu.conf",
			 harness_tmpdir(), i);
		FILE *f = fopen(name, "wb");
		CHECK(f && fwrite(nul_cases[i], 1, nul_len[i], f) ==
			       nul_len[i]);
		if (f)
			fclose(f);
		CHECK_INT(load_bounded(name, err, sizeof err), 0);
		CHECK_MSG(strstr(err, ":1: @include \"") &&
			  strstr(err, "a NUL byte"), "nul%zu: %s", i, err);
	}
	/* A regular include still works, and /dev/null is an empty file
	 * (`--config /dev/null`: no settings); a tty is refused. */
	path = write_file("fifo/good.conf", "@include \"ok.conf\"\n");
	CHECK_INT(load_bounded(path, err, sizeof err), 1);
	CHECK_INT(load_bounded("/dev/null", err, sizeof err), 1);
	CHECK_INT(load_bounded("/dev/tty", err, sizeof err), 0);
	CHECK_MSG(strstr(err, "a character device"), "%s", err);
}

/* ---- one road: copies and the reload column ---- */

static void test_copy_is_deep_and_equal(void)
{
	struct conf a, b;
	char err[CONF_ERR_SIZE];
	CHECK_MSG(load_text(&a, "mpd = { host = \"h\"; password = \"pw\"; };\n"
			    "music_directory = \"/m\";\n"
			    "model = { hidden = [8, 4, 2]; };\n"
			    "log = { file = \"/tmp/x.log\"; };\n"
			    "bogus = 1;\n", err, sizeof err), "%s", err);
	CHECK(conf_copy(&b, &a));
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		conf_option_describe(&a, i, &name, NULL, NULL, 0, NULL);
		CHECK_MSG(conf_option_equal(&a, &b, i), "%s differs", name);
		CHECK_MSG(a.source[i] == b.source[i], "%s: source", name);
	}
	CHECK_STR(b.path, a.path);
	CHECK_STR(b.warnings, a.warnings);
	CHECK(b.mpd.host != a.mpd.host && b.path != a.path);
	conf_free(&a);
	CHECK_STR(b.mpd.password, "pw");
	CHECK_INT(b.model.n_hidden, 3);
	CHECK_INT(b.model.hidden[2], 2);
	conf_free(&b);
}

static void test_reload_column(void)
{
	int restart = 0;
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		struct conf d;
		CHECK(conf_defaults(&d));
		conf_option_describe(&d, i, &name, NULL, NULL, 0, NULL);
		conf_free(&d);
		bool live = conf_option_live(i);
		restart += !live;
		/* The database and its lock stay where the daemon opened
		 * them; everything else reaches the running parts. */
		CHECK_MSG(live == (strcmp(name, "data_directory") != 0),
			  "%s: live %d", name, live);
	}
	CHECK_INT(restart, 1);
	CHECK(!conf_option_live(conf_option_count()));

	struct conf a, b;
	char err[CONF_ERR_SIZE];
	CHECK(load_text(&a, "data_directory = \"/a\";\n", err, sizeof err));
	CHECK(conf_defaults(&b));
	int i = conf_option_index("data_directory");
	CHECK(conf_option_copy(&b, &a, (size_t)i));
	CHECK_STR(b.data_directory, "/a");
	CHECK_INT(b.source[i], CONF_SOURCE_FILE);
	CHECK(!conf_option_copy(&b, &a, conf_option_count()));
	conf_free(&a);
	conf_free(&b);
	CHECK_STR(conf_source_name(CONF_SOURCE_COMMAND_LINE), "command line");
}

/* One source for every default: the model's own defaults (for core/'s
 * users: tests, benchmarks) are the table's, and the daemon's parameters
 * come from the configuration alone. Issue 15: model.batch was 32 in
 * core/model.c and 64 in the table. */
static void test_model_defaults_are_the_tables(void)
{
	struct conf d;
	CHECK(conf_defaults(&d));
	struct model_params core, daemon;
	model_params_default(&core, features_count());
	learn_params_from_conf(&daemon, &d, features_count());
	CHECK_INT(core.n_hidden, d.model.n_hidden);
	for (int k = 0; k < d.model.n_hidden; k++)
		CHECK_INT(core.hidden[k], d.model.hidden[k]);
	CHECK_NEAR(core.learning_rate, d.model.learning_rate, 1e-9);
	CHECK_NEAR(core.l2, d.model.l2, 1e-9);
	CHECK_INT(core.ensemble, d.model.ensemble);
	CHECK_INT(core.steps_per_event, d.model.steps_per_event);
	CHECK_INT(core.batch, d.model.batch);
	CHECK_NEAR(core.half_life_days, d.model.half_life_days, 1e-6);
	CHECK_INT(core.seed, d.model.seed);
	CHECK(memcmp(&core, &daemon, sizeof core) == 0);
	conf_free(&d);
}

/* ---- warnings ---- */

static void test_unknown_keys(void)
{
	struct conf c;
	char err[CONF_ERR_SIZE];
	const char *text = "queue = {\n"
			   "\tahed = 3;\n"
			   "};\n"
			   "zzzzzz = 1;\n"
			   "model = { hiden = [8]; nested = { x = 1; }; };\n";
	if (!CHECK_MSG(load_text(&c, text, err, sizeof err), "%s", err))
		return;
	const char *w = c.warnings ? c.warnings : "";
	char want[3][256];
	const char *t = harness_tmpdir();
	/* The reader adds "warning": the text does not say it twice. */
	snprintf(want[0], 256, "%s/t.conf:2: unknown option 'queue.ahed' "
		 "(did you mean queue.ahead?)", t);
	snprintf(want[1], 256, "%s/t.conf:5: unknown option 'model.hiden' "
		 "(did you mean model.hidden?)", t);
	snprintf(want[2], 256, "%s/t.conf:5: unknown group 'model.nested'",
		 t);
	for (int k = 0; k < 3; k++)
		CHECK_MSG(strstr(w, want[k]), "warnings lack \"%s\":\n%s",
			  want[k], w);
	CHECK(!strstr(w, "warning"));
	CHECK(strlen(w) >= strlen(want[2]) &&
	      strcmp(w + strlen(w) - strlen(want[2]), want[2]) == 0);
	/* A name far from every option gets no suggestion. */
	const char *z = strstr(w, "'zzzzzz'");
	CHECK(z && strncmp(z, "'zzzzzz'\n", 9) == 0);
	CHECK(strstr(w, ":4: unknown option 'zzzzzz'"));
	int lines = 1;
	for (const char *p = w; *p; p++)
		lines += *p == '\n';
	CHECK_INT(lines, 4);
	CHECK(w[strlen(w) - 1] != '\n');
	/* Unknown keys change nothing. */
	CHECK_INT(c.queue.ahead, 2);
	CHECK_INT(c.model.hidden[0], 64);
	conf_free(&c);

	CHECK(load_text(&c, "queue = { ahead = 3; };\n", err, sizeof err));
	CHECK(c.warnings == NULL);
	conf_free(&c);
}

/* Where an unknown name would leave a feature silently off, it is an
 * error: a misspelt group, a misspelt or misplaced top-level option; the
 * error suggests the name meant. */
static void test_unknown_that_disables_is_error(void)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "music_dir = \"/srv/music\";\n",
		  "t.conf:1: music_dir: unknown option (did you mean "
		  "music_directory?)" },
		{ "# a comment\nmusicdirectory = \"/srv/music\";\n",
		  "t.conf:2: musicdirectory: unknown option (did you mean "
		  "music_directory?)" },
		{ "ahead = 4;\n",
		  "t.conf:1: ahead: unknown option (did you mean "
		  "queue.ahead?)" },
		{ "qeueu = { ahead = 5; };\n",
		  "t.conf:1: qeueu: unknown group (did you mean queue?); its "
		  "settings would be ignored" },
		{ "extras = { x = 1; };\n",
		  "t.conf:1: extras: unknown group; its settings would be "
		  "ignored" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		struct conf c;
		char err[CONF_ERR_SIZE];
		CHECK_MSG(!load_text(&c, cases[k].text, err, sizeof err),
			  "accepted: %s", cases[k].text);
		CHECK_MSG(strstr(err, cases[k].want), "%s: got \"%s\"",
			  cases[k].want, err);
		conf_free(&c);
	}
}

/* yes/no/on/off are not libconfig values: the error says true/false. */
static void test_yes_is_not_a_boolean(void)
{
	struct conf c;
	char err[CONF_ERR_SIZE];
	CHECK(!load_text(&c, "feedback = {\n\tstickers = yes;\n};\n", err,
			 sizeof err));
	CHECK_MSG(strstr(err, "t.conf:2: stickers: 'yes' is not a value "
			 "(booleans are true or false: stickers = true;)"),
		  "%s", err);
	conf_free(&c);
	CHECK(!load_text(&c, "feedback = { stickers = Off; };\n", err,
			 sizeof err));
	CHECK_MSG(strstr(err, "stickers = false;"), "%s", err);
	conf_free(&c);
}

/* ---- environment ---- */

struct env_case {
	const char *file;	/* extra text of the file */
	const char *host, *port;
	const char *want_host, *want_password;
	unsigned want_port;
};

static void test_env(void)
{
	static const struct env_case cases[] = {
		{ "", "secret@example.org", "6601", "example.org", "secret",
		  6601 },
		{ "", "example.org", NULL, "example.org", NULL, 0 },
		{ "", "/run/mpd/socket", "", "/run/mpd/socket", NULL, 0 },
		{ "", "@mpd", NULL, "@mpd", NULL, 0 },
		{ "", "pw@@abstract", NULL, "@abstract", "pw", 0 },
		{ "", "pw@/run/mpd/socket", NULL, "/run/mpd/socket", "pw", 0 },
		{ "", "pw@", NULL, NULL, "pw", 0 },
		{ "", "a@b@c", NULL, "b@c", "a", 0 },
		{ "", "", "65535", NULL, NULL, 65535 },
		{ "", NULL, "1", NULL, NULL, 1 },
		/* The file's host wins over MPD_HOST as a whole: its
		 * password must not go to the file's host. */
		{ "mpd = { host = \"filehost\"; };", "pw@other", "7000",
		  "filehost", NULL, 7000 },
		{ "mpd = { password = \"filepw\"; };", "pw@other", NULL,
		  "other", "filepw", 0 },
		/* A port in the file wins; MPD_PORT is then not read. */
		{ "mpd = { port = 6602; };", NULL, "junk", NULL, NULL, 6602 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const struct env_case *e = &cases[k];
		struct conf c;
		char err[CONF_ERR_SIZE];
		if (!CHECK_MSG(load_text(&c, e->file, err, sizeof err), "%s",
			       err))
			continue;
		CHECK_MSG(conf_apply_env(&c, e->host, e->port, err,
					 sizeof err), "case %zu: %s", k, err);
		CHECK_MSG(e->want_host ? c.mpd.host &&
					 strcmp(c.mpd.host, e->want_host) == 0
				       : c.mpd.host == NULL,
			  "case %zu: host %s", k, c.mpd.host);
		CHECK_MSG(e->want_password
				  ? c.mpd.password &&
					    strcmp(c.mpd.password,
						   e->want_password) == 0
				  : c.mpd.password == NULL,
			  "case %zu: password %s", k, c.mpd.password);
		CHECK_MSG(c.mpd.port == e->want_port, "case %zu: port %u", k,
			  c.mpd.port);
		bool host_from_env = e->want_host && !strstr(e->file, "host");
		CHECK_INT(source_of(&c, "mpd.host"),
			  host_from_env ? CONF_SOURCE_ENV
			  : strstr(e->file, "host") ? CONF_SOURCE_FILE
						    : CONF_SOURCE_DEFAULT);
		bool port_from_env = e->port && *e->port &&
				     !strstr(e->file, "port");
		CHECK_INT(source_of(&c, "mpd.port"),
			  port_from_env ? CONF_SOURCE_ENV
			  : strstr(e->file, "port") ? CONF_SOURCE_FILE
						    : CONF_SOURCE_DEFAULT);
		conf_free(&c);
	}

	/* port = 0 in the file asks for MPD_PORT. */
	struct conf c0;
	char err0[CONF_ERR_SIZE];
	CHECK(load_text(&c0, "mpd = { port = 0; };\n", err0, sizeof err0));
	CHECK(conf_apply_env(&c0, NULL, "6605", err0, sizeof err0));
	CHECK_INT(c0.mpd.port, 6605);
	CHECK_INT(source_of(&c0, "mpd.port"), CONF_SOURCE_ENV);
	conf_free(&c0);

	static const char *const bad_ports[] = { "abc", "0", "65536", "66a",
						 "-1", " 1", "+5",
						 "99999999999999999999" };
	for (size_t k = 0; k < sizeof bad_ports / sizeof *bad_ports; k++) {
		struct conf c;
		char err[CONF_ERR_SIZE];
		CHECK(conf_defaults(&c));
		CHECK_MSG(!conf_apply_env(&c, "pw@h", bad_ports[k], err,
					  sizeof err),
			  "MPD_PORT=%s accepted", bad_ports[k]);
		CHECK_MSG(strncmp(err, "MPD_PORT: ", 10) == 0 &&
			  strstr(err, "expected an integer from 1 to 65535"),
			  "%s", err);
		/* Nothing half-applied. */
		CHECK(c.mpd.host == NULL && c.mpd.password == NULL);
		conf_free(&c);
	}
}

/* ---- paths ---- */

static void test_tilde(void)
{
	char home[4096];
	snprintf(home, sizeof home, "%s/home", harness_tmpdir());
	set_env("HOME", home);
	struct conf c;
	char err[CONF_ERR_SIZE], want[4200];
	bool ok = load_text(&c,
			    "music_directory = \"~/Music\";\n"
			    "data_directory = \"~\";\n"
			    "log = { file = \"~/mpdrec.log\"; };\n"
			    "mpd = { host = \"~/.mpd/socket\"; };\n",
			    err, sizeof err);
	if (CHECK_MSG(ok, "%s", err)) {
		snprintf(want, sizeof want, "%s/Music", home);
		CHECK_STR(c.music_directory, want);
		CHECK_STR(c.data_directory, home);
		snprintf(want, sizeof want, "%s/mpdrec.log", home);
		CHECK_STR(c.log.file, want);
		snprintf(want, sizeof want, "%s/.mpd/socket", home);
		CHECK_STR(c.mpd.host, want);
	}
	conf_free(&c);

	/* Host names are not paths; "~" only expands at the start. */
	CHECK(load_text(&c, "mpd = { host = \"music.local\"; };\n"
			    "music_directory = \"/srv/~/m\";\n",
			err, sizeof err));
	CHECK_STR(c.mpd.host, "music.local");
	CHECK_STR(c.music_directory, "/srv/~/m");
	conf_free(&c);

	expect_error("music_directory = \"~bob/music\";\n",
		     "music_directory: ~user is not supported");
	set_env("HOME", saved_home);
}

static void test_search_order(void)
{
	char *xdg_saved = getenv("XDG_CONFIG_HOME")
				  ? strdup(getenv("XDG_CONFIG_HOME"))
				  : NULL;
	const char *t = harness_tmpdir();
	char xdg[4096], home[4096], xdg_file[4200], home_file[4200];
	snprintf(xdg, sizeof xdg, "%s/xdg", t);
	snprintf(home, sizeof home, "%s/sh", t);
	snprintf(xdg_file, sizeof xdg_file, "%s/mpdrec/mpdrec.conf", xdg);
	snprintf(home_file, sizeof home_file, "%s/.config/mpdrec/mpdrec.conf",
		 home);
	CHECK_INT(harness_system("mkdir -p '%s/mpdrec' '%s/.config/mpdrec' && "
				 "touch '%s' '%s'", xdg, home, xdg_file,
				 home_file), 0);
	const char *etc = access("/etc/mpdrec.conf", F_OK) == 0
				  ? "/etc/mpdrec.conf" : NULL;
	set_env("HOME", home);

	/* An explicit path wins, even one that does not exist. */
	char *p = conf_find("/nonexistent/mpdrec.conf");
	CHECK_STR(p, "/nonexistent/mpdrec.conf");
	free(p);

	set_env("XDG_CONFIG_HOME", xdg);
	p = conf_find(NULL);
	CHECK_STR(p, xdg_file);
	free(p);

	/* With XDG_CONFIG_HOME set, ~/.config is not looked at. */
	CHECK_INT(unlink(xdg_file), 0);
	p = conf_find(NULL);
	CHECK_MSG(etc ? p && strcmp(p, etc) == 0 : p == NULL, "got %s", p);
	free(p);

	set_env("XDG_CONFIG_HOME", NULL);
	p = conf_find(NULL);
	CHECK_STR(p, home_file);
	free(p);

	set_env("XDG_CONFIG_HOME", "relative/xdg");
	p = conf_find(NULL);
	CHECK_STR(p, home_file);
	free(p);

	CHECK_INT(unlink(home_file), 0);
	p = conf_find(NULL);
	CHECK_MSG(etc ? p && strcmp(p, etc) == 0 : p == NULL, "got %s", p);
	free(p);

	set_env("XDG_CONFIG_HOME", xdg_saved);
	set_env("HOME", saved_home);
	free(xdg_saved);
}

/* ---- description ---- */

static void test_describe_hides_password(void)
{
	struct conf c;
	char err[CONF_ERR_SIZE], v[256];
	CHECK(conf_defaults(&c));
	CHECK_STR(value_of(&c, "mpd.password", v, sizeof v), "(unset)");
	conf_free(&c);

	CHECK(load_text(&c, "mpd = { password = \"s3cret-pw\"; host = \"h\"; "
			    "};\n", err, sizeof err));
	CHECK_STR(c.mpd.password, "s3cret-pw");
	CHECK_STR(value_of(&c, "mpd.password", v, sizeof v), "(set)");
	CHECK_STR(value_of(&c, "mpd.host", v, sizeof v), "\"h\"");
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		enum conf_source src;
		conf_option_describe(&c, i, &name, NULL, v, sizeof v, &src);
		CHECK_MSG(!strstr(v, "s3cret"), "%s shows %s", name, v);
		CHECK(strcmp(conf_source_name(src), "default") == 0 ||
		      strcmp(name, "mpd.password") == 0 ||
		      strcmp(name, "mpd.host") == 0);
		/* A tiny buffer truncates (ASan watches the bounds). */
		char tiny[3];
		conf_option_describe(&c, i, NULL, NULL, tiny, sizeof tiny,
				     NULL);
		CHECK(strlen(tiny) < sizeof tiny);
	}
	CHECK_STR(conf_source_name(CONF_SOURCE_FILE), "file");
	conf_free(&c);

	/* Nor one that came from MPD_HOST. */
	CHECK(conf_defaults(&c));
	CHECK(conf_apply_env(&c, "envpw@h", NULL, err, sizeof err));
	enum conf_source src;
	int i = conf_option_index("mpd.password");
	conf_option_describe(&c, (size_t)i, NULL, NULL, v, sizeof v, &src);
	CHECK_STR(v, "(set)");
	CHECK_STR(conf_source_name(src), "environment");
	conf_free(&c);
}

/* ---- documentation ---- */

/* A bound as the documents write it: 0.000001, 0.15, 65535. */
static void format_bound(char *buf, size_t n, double v)
{
	snprintf(buf, n, "%.10f", v);
	char *end = buf + strlen(buf);
	while (end > buf && end[-1] == '0')
		*--end = '\0';
	if (end > buf && end[-1] == '.')
		end[-1] = '\0';
}

/* Replaces the roff escapes the man page uses in values. */
static void unroff(char *s)
{
	static const char *const from[] = { "\\(ti", "\\(dq", "\\(aq", "\\-" };
	static const char *const to[] = { "~", "\"", "'", "-" };
	for (size_t k = 0; k < sizeof from / sizeof *from; k++) {
		char *p;
		while ((p = strstr(s, from[k]))) {
			size_t fl = strlen(from[k]), tl = strlen(to[k]);
			memcpy(p, to[k], tl);
			memmove(p + tl, p + fl, strlen(p + fl) + 1);
		}
	}
}

/* Every option is in the man page with its default and bounds; every
 * numeric option's comment in the example states its bounds. */
static void test_docs_match_table(void)
{
	char *man = read_all("docs/mpdrec.conf.5");
	char *example = read_all(EXAMPLE);
	if (!CHECK(man && example))
		goto out;
	unroff(man);
	struct conf d;
	CHECK(conf_defaults(&d));
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name;
		char v[128], head[128], want[200];
		conf_option_describe(&d, i, &name, NULL, v, sizeof v, NULL);
		const char *dot = strrchr(name, '.');
		const char *key = dot ? dot + 1 : name;
		snprintf(head, sizeof head, "\n.BR %s \" (", key);
		const char *entry = strstr(man, head);
		if (!CHECK_MSG(entry, "man page lacks %s", name))
			continue;
		const char *eol = strchr(entry + 1, '\n');
		int len = eol ? (int)(eol - entry) : (int)strlen(entry);
		char line[512];
		snprintf(line, sizeof line, "%.*s", len, entry + 1);
		if (strcmp(v, "(unset)") == 0)
			snprintf(want, sizeof want, "default: unset");
		else if (strcmp(name, "data_directory") == 0)
			snprintf(want, sizeof want,
				 "default: $XDG_DATA_HOME/mpdrec");
		else
			snprintf(want, sizeof want, "default: %s", v);
		CHECK_MSG(strstr(line, want), "man: %s lacks \"%s\"", line,
			  want);
		/* Whether a reload applies it, as the table says. */
		const char *when = conf_option_live(i) ? "; reload: applied)" :
				   "; reload: at the next start)";
		CHECK_MSG(strstr(line, when), "man: %s lacks \"%s\"", line,
			  when);
		double lo, hi;
		bool integer;
		if (!conf_option_bounds(i, &lo, &hi, &integer))
			continue;
		char a[64], b[64];
		format_bound(a, sizeof a, lo);
		format_bound(b, sizeof b, hi);
		snprintf(want, sizeof want, "%s to %s", a, b);
		CHECK_MSG(strstr(line, want), "man: %s lacks \"%s\"", line,
			  want);
		/* The example: the comment line just above "key = ". */
		char pat[80];
		snprintf(pat, sizeof pat, "\t%s = ", key);
		const char *at = strstr(example, pat);
		if (!at) {
			snprintf(pat, sizeof pat, "\t#%s = ", key);
			at = strstr(example, pat);
		}
		if (!CHECK_MSG(at, "example lacks %s", name))
			continue;
		const char *start = at;
		while (start > example && start[-1] != '\n')
			start--;
		const char *prev = start - 1;
		while (prev > example && prev[-1] != '\n')
			prev--;
		snprintf(line, sizeof line, "%.*s", (int)(start - prev), prev);
		CHECK_MSG(strstr(line, want) && strstr(line, "#"),
			  "example comment \"%s\" lacks \"%s\"", line, want);
	}
	conf_free(&d);

	/* The man page's EXAMPLE loads without a warning. */
	const char *ex = strstr(man, "# ~/.config/mpdrec/mpdrec.conf\n");
	const char *fi = ex ? strstr(ex, "\n.fi\n") : NULL;
	if (CHECK_MSG(ex && fi, "man page lacks its example")) {
		char *text = strndup(ex, (size_t)(fi - ex) + 1);
		struct conf c;
		char err[CONF_ERR_SIZE];
		CHECK_MSG(load_text(&c, text, err, sizeof err), "%s", err);
		CHECK_MSG(!c.warnings, "%s", c.warnings);
		CHECK_INT(c.queue.ahead, 4);
		conf_free(&c);
		free(text);
	}
out:
	free(man);
	free(example);
}

/* queue.include / queue.exclude: lists of "field:glob" rules. */
static void test_queue_rules(void)
{
	struct conf c, d;
	char err[CONF_ERR_SIZE];
	if (CHECK_MSG(load_text(&c, "queue = { include = [\"genre:*Jazz*\", "
				"\"PATH:a/*\"]; exclude = (\"artist:X\"); };\n",
				err, sizeof err), "%s", err)) {
		CHECK_INT(c.queue.n_include, 2);
		CHECK_STR(c.queue.include[0], "genre:*Jazz*");
		CHECK_STR(c.queue.include[1], "PATH:a/*");
		CHECK_INT(c.queue.n_exclude, 1);
		enum conf_rule_field f;
		const char *glob;
		CHECK(conf_rule_parse(c.queue.include[1], &f, &glob));
		CHECK_INT(f, CONF_RULE_PATH);
		CHECK_STR(glob, "a/*");
		CHECK(conf_defaults(&d));
		int i = conf_option_index("queue.include");
		CHECK(i >= 0 && !conf_option_equal(&c, &d, (size_t)i));
		char v[256];
		conf_option_describe(&c, (size_t)i, NULL, NULL, v, sizeof v,
				     NULL);
		CHECK_STR(v, "[\"genre:*Jazz*\", \"PATH:a/*\"]");
		conf_option_describe(&d, (size_t)i, NULL, NULL, v, sizeof v,
				     NULL);
		CHECK_STR(v, "[]");
		conf_free(&d);
	}
	conf_free(&c);
	expect_error("queue = {\n\tinclude = [\"jazz\"];\n};\n",
		     "t.conf:2: queue.include: rule 1 \"jazz\" is not "
		     "FIELD:GLOB (expected a list of strings");
	expect_error("queue = { exclude = [\"genre:\"]; };\n",
		     "queue.exclude: rule 1 \"genre:\" is not FIELD:GLOB");
	expect_error("queue = { exclude = [\"title:x\"]; };\n",
		     "is not FIELD:GLOB");
	expect_error("queue = { exclude = \"genre:x\"; };\n",
		     "queue.exclude: wrong type, got a string");
	expect_error("queue = { include = (\"path:a\", 3); };\n",
		     "queue.include: wrong type, rule 2 is an integer");
}

int main(void)
{
	const char *h = getenv("HOME");
	snprintf(saved_home, sizeof saved_home, "%s", h ? h : "/");
	RUN(test_table_walk);
	RUN(test_data_directory_default);
	RUN(test_example_is_defaults);
	RUN(test_example_change_is_noticed);
	RUN(test_syntax_error);
	RUN(test_wrong_type);
	RUN(test_out_of_bounds);
	RUN(test_bounds_edges);
	RUN(test_missing_file);
	RUN(test_include);
	RUN(test_only_regular_files);
	RUN(test_copy_is_deep_and_equal);
	RUN(test_reload_column);
	RUN(test_model_defaults_are_the_tables);
	RUN(test_unknown_keys);
	RUN(test_unknown_that_disables_is_error);
	RUN(test_yes_is_not_a_boolean);
	RUN(test_env);
	RUN(test_tilde);
	RUN(test_search_order);
	RUN(test_describe_hides_password);
	RUN(test_docs_match_table);
	RUN(test_queue_rules);
	return harness_finish();
}
