/* mpdrec report --html FILE: the HTML report of daemon/cmd/report_html.c, written
 * atomically (a temporary file beside FILE, renamed over it), so a browser
 * or a cron job never sees half a page. FILE "-" writes to stdout. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/log.h"
#include "daemon/cmd/report_html.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: mpdrec report --html FILE\n"
		   "  write an HTML report with plots to FILE (- for "
		   "stdout)\n");
}

/* Writes the report of s to path through a temporary file; prints why it
 * could not. Returns the exit status. */
static int write_report(struct store *s, const char *path)
{
	char err[1024];
	if (!strcmp(path, "-")) {
		if (!report_html_write(stdout, s, (double)time(NULL), err,
				       sizeof err)) {
			fprintf(stderr, "mpdrec report: %s\n", err);
			return 1;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "mpdrec report: cannot write to "
					"stdout: %s\n",
				strerror(errno));
			return 1;
		}
		return 0;
	}

	size_t len = strlen(path);
	char *tmp = malloc(len + sizeof ".XXXXXX");
	if (!tmp) {
		fprintf(stderr, "mpdrec report: out of memory\n");
		return 1;
	}
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", sizeof ".XXXXXX");
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "mpdrec report: cannot write %s: %s\n", path,
			strerror(errno));
		free(tmp);
		return 1;
	}
	/* mkstemp makes the file 0600; give it the mode a plain create
	 * would. */
	mode_t mask = umask(0);
	umask(mask);
	FILE *f = fdopen(fd, "w");
	bool written = false;
	const char *why = NULL;
	int saved = 0;
	if (!f) {
		saved = errno;
		close(fd);
	} else if (fchmod(fd, 0666 & ~mask) != 0) {
		saved = errno;
		fclose(f);
	} else if (!report_html_write(f, s, (double)time(NULL), err,
				      sizeof err)) {
		why = err;
		fclose(f);
	} else {
		bool ok = fflush(f) == 0 && !ferror(f) && fsync(fd) == 0;
		saved = errno;
		if (fclose(f) != 0 && ok) {
			ok = false;
			saved = errno;
		}
		written = ok;
	}
	if (written && rename(tmp, path) != 0) {
		saved = errno;
		written = false;
	}
	if (!written) {
		unlink(tmp);
		if (why)
			fprintf(stderr, "mpdrec report: %s\n", why);
		else
			fprintf(stderr, "mpdrec report: cannot write %s: %s\n",
				path, strerror(saved ? saved : EIO));
		free(tmp);
		return 1;
	}
	free(tmp);
	log_info("report written to %s", path);
	return 0;
}

int cmd_report(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int opt;
	optind = 0;	/* glibc: start over, whoever parsed before */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mpdrec report: unknown option or "
					"missing argument\n");
			usage(stderr);
			return 2;
		}
	}
	if (!path || !*path || optind != argc) {
		if (optind != argc)
			fprintf(stderr, "mpdrec report: unexpected argument "
					"'%s'\n",
				argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!c->data_directory) {
		fprintf(stderr, "mpdrec report: no data_directory "
				"configured\n");
		return 1;
	}
	char err[1024];
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s) {
		fprintf(stderr, "mpdrec report: cannot open the store in %s: "
				"%s\n",
			c->data_directory, err);
		return 1;
	}
	int rc = write_report(s, path);
	store_close(s);
	return rc;
}
