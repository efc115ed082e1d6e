/* mpdrec check-config [FILE]: the effective configuration and where each
 * value came from, then what can be checked beyond the syntax: the music
 * directory, the data directory, the MPD address and whether MPD answers;
 * loading the configuration for every command. */
#include "conf/conf.h"
#include "daemon/cmd/cmd.h"
#include "daemon/link.h"

#include <dirent.h>
#include <errno.h>
#include <mpd/client.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long check-config waits for MPD at most, in milliseconds. */
#define CHECK_MPD_TIMEOUT_MS 3000

bool cmd_load_config(struct conf *c, const char *explicit_path)
{
	char err[CONF_ERR_SIZE];
	char *path = conf_find(explicit_path);
	bool ok = path ? conf_load(c, path, err, sizeof err)
		       : conf_defaults(c);
	free(path);
	if (!ok) {
		fprintf(stderr, "mpdrec: %s\n",
			path ? err : "out of memory");
		return false;
	}
	/* One "warning" per line: the text does not say it itself. */
	for (const char *w = c->warnings; w && *w;) {
		size_t len = strcspn(w, "\n");
		fprintf(stderr, "mpdrec: warning: %.*s\n", (int)len, w);
		w += len + (w[len] == '\n');
	}
	if (!conf_apply_env(c, getenv("MPD_HOST"), getenv("MPD_PORT"), err,
			    sizeof err)) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return false;
	}
	return true;
}

/* --- checks beyond the syntax ------------------------------------------- */

struct checks {
	int errors, warnings;
};

__attribute__((format(printf, 3, 4)))
static void say(struct checks *k, const char *level, const char *fmt, ...)
{
	if (!strcmp(level, "ERROR"))
		k->errors++;
	else if (!strcmp(level, "warning"))
		k->warnings++;
	printf("%-8s ", level);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void check_music_directory(struct checks *k, const struct conf *c)
{
	const char *dir = c->music_directory;
	if (!dir) {
		say(k, "warning", "music_directory is unset: mpdrec analyses "
		    "no file and queues nothing (set it to MPD's "
		    "music_directory)");
		return;
	}
	struct stat st;
	if (stat(dir, &st) != 0) {
		say(k, "ERROR", "music_directory \"%s\": %s", dir,
		    strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		say(k, "ERROR", "music_directory \"%s\": not a directory",
		    dir);
		return;
	}
	DIR *d = access(dir, R_OK | X_OK) == 0 ? opendir(dir) : NULL;
	if (!d) {
		say(k, "ERROR", "music_directory \"%s\": cannot read it: %s "
		    "(mpdrec runs as uid %u)", dir, strerror(errno),
		    (unsigned)getuid());
		return;
	}
	int entries = 0;
	struct dirent *e;
	while ((e = readdir(d)) && entries < 1)
		entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	if (entries == 0)
		say(k, "warning", "music_directory \"%s\" is empty", dir);
	else
		say(k, "ok", "music_directory \"%s\" is a readable directory",
		    dir);
}

/* The nearest existing ancestor of path (path itself included) can be
 * written to: the store or log can be made there. */
static bool writable_or_creatable(const char *path, char *near, size_t size)
{
	snprintf(near, size, "%s", path);
	for (;;) {
		if (access(near, F_OK) == 0)
			return access(near, W_OK | X_OK) == 0;
		char *slash = strrchr(near, '/');
		if (!slash || slash == near) {
			snprintf(near, size, "/");
			return access(near, W_OK | X_OK) == 0;
		}
		*slash = '\0';
	}
}

static void check_data_directory(struct checks *k, const struct conf *c)
{
	char near[4096];
	if (!c->data_directory)
		say(k, "ERROR", "data_directory is unset and there is no home "
		    "directory to put it in");
	else if (!writable_or_creatable(c->data_directory, near, sizeof near))
		say(k, "ERROR", "data_directory \"%s\": cannot write to %s",
		    c->data_directory, near);
	else
		say(k, "ok", "data_directory \"%s\" is writable",
		    c->data_directory);
	if (c->log.file && !writable_or_creatable(c->log.file, near,
						  sizeof near))
		say(k, "ERROR", "log.file \"%s\": cannot write to %s",
		    c->log.file, near);
}

/* "localhost:6600" puts the port in the host; "pw@host" the password.
 * Socket paths ("/run/mpd/socket"), abstract sockets ("@mpd") and IPv6
 * addresses ("::1") are left alone. */
static bool check_host_form(struct checks *k, const struct conf *c)
{
	const char *h = c->mpd.host;
	if (!h || h[0] == '/' || h[0] == '@')
		return true;
	const char *colon = strchr(h, ':');
	if (colon && !strchr(colon + 1, ':') && colon[1] &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		say(k, "ERROR", "mpd.host \"%s\" holds a port: write mpd = { "
		    "host = \"%.*s\"; port = %s; };", h, (int)(colon - h), h,
		    colon + 1);
		return false;
	}
	const char *at = strchr(h, '@');
	if (at) {
		say(k, "ERROR", "mpd.host holds a password (the part before "
		    "'@'): put it in mpd.password and write host = \"%s\"",
		    at + 1);
		return false;
	}
	return true;
}

static void check_mpd(struct checks *k, const struct conf *c)
{
	if (!check_host_form(k, c))
		return;
	struct link_params lp;
	link_params_from_conf(&lp, c);
	if (lp.timeout_ms == 0 || lp.timeout_ms > CHECK_MPD_TIMEOUT_MS)
		lp.timeout_ms = CHECK_MPD_TIMEOUT_MS;
	char where[600];
	if (c->mpd.host && (c->mpd.host[0] == '/' || c->mpd.host[0] == '@'))
		snprintf(where, sizeof where, "MPD at %s", c->mpd.host);
	else
		snprintf(where, sizeof where, "MPD at %s:%u",
			 c->mpd.host ? c->mpd.host : "localhost",
			 c->mpd.port ? c->mpd.port : 6600);
	bool refused = false;
	char why[300];
	struct mpd_connection *m = link_open(&lp, &refused, why, sizeof why);
	if (!m) {
		if (refused)
			say(k, "ERROR", "%s: %s", where, why);
		else
			say(k, "warning", "%s does not answer: %s (not "
			    "running yet? the daemon keeps trying)", where,
			    why);
		return;
	}
	const unsigned *v = mpd_connection_get_server_version(m);
	say(k, "ok", "%s answers (protocol %u.%u.%u)", where, v[0], v[1],
	    v[2]);
	mpd_connection_free(m);
}

int cmd_check_config(int argc, char **argv, const struct conf *c)
{
	struct conf other = { 0 };
	if (argc > 2) {
		fprintf(stderr, "usage: mpdrec check-config [FILE]\n");
		return 2;
	}
	if (argc == 2) {
		/* An explicit file to check replaces the one found. */
		if (!cmd_load_config(&other, argv[1])) {
			conf_free(&other);
			return 2;
		}
		c = &other;
	}
	printf("# configuration: %s\n", c->path ? c->path
						: "(none found: defaults)");
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name, *help;
		char value[1024];
		enum conf_source src;
		if (!conf_option_describe(c, i, &name, &help, value,
					  sizeof value, &src))
			continue;
		printf("%-24s = %-28s # %s\n", name, value,
		       conf_source_name(src));
	}
	printf("\n# checks\n");
	struct checks k = { 0 };
	check_music_directory(&k, c);
	check_data_directory(&k, c);
	check_mpd(&k, c);
	fflush(stdout);
	conf_free(&other);
	if (k.errors) {
		fprintf(stderr, "mpdrec check-config: %d error%s (the lines "
			"marked ERROR)\n", k.errors, k.errors == 1 ? "" : "s");
		return 2;
	}
	return 0;
}
