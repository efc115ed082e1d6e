/* mpdrec [run] [--daemon] [--pidfile FILE]: the daemon in the foreground or
 * in the background (daemon/daemon.c). */
#include "conf/conf.h"
#include "daemon/cmd/cmd.h"
#include "daemon/daemon.h"
#include "daemon/log.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Makes every missing directory of path (a file's path: its last part is
 * not made), each 0700. Returns false with errno set. */
static bool make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return false;
	}
	return true;
}

/* Where a background daemon logs when log.file is unset:
 * $XDG_STATE_HOME/mpdrec/mpdrec.log, else ~/.local/state/mpdrec/mpdrec.log
 * (the XDG base directory spec's place for logs). Writes it into buf;
 * false when there is no home directory. */
static bool default_log_path(char *buf, size_t size)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;
	if (state && state[0] == '/')
		n = snprintf(buf, size, "%s/mpdrec/mpdrec.log", state);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.local/state/mpdrec/mpdrec.log",
			     home);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

int cmd_run(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	bool background = false;
	const char *pidfile = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "dp:", opts, NULL)) != -1) {
		if (opt == 'd')
			background = true;
		else if (opt == 'p')
			pidfile = optarg;
		else
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "mpdrec run: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	/* In the background stderr goes nowhere: without log.file the log
	 * goes to the state directory instead of being thrown away. */
	if (background && !c->log.file) {
		char path[4096];
		if (!default_log_path(path, sizeof path)) {
			fprintf(stderr, "mpdrec run: no home directory for the "
				"log: set log.file\n");
			return 2;
		}
		if (!make_parents(path) ||
		    !log_setup((enum log_level)c->log.level, path)) {
			fprintf(stderr, "mpdrec run: cannot open the log %s: "
				"%s\n", path, strerror(errno));
			return 1;
		}
		fprintf(stderr, "mpdrec: running in the background; the log "
			"is %s\n", path);
	}
	struct daemon_options o = { background, pidfile };
	return daemon_run(c, &o);
}
