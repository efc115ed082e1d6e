/* mpdrec report --html FILE: the HTML report of daemon/cmd/report_html.c,
 * written to what FILE is. A regular file (or a new one) is written
 * atomically: a temporary file beside it, renamed over it, so a browser or
 * a cron job never sees half a page. A symbolic link is written through to
 * its target (the link stays a link). Anything else, a device or a pipe,
 * is written to as it is, never replaced (run as root, a rename over
 * /dev/full replaced the device node). FILE "-" writes to stdout. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/log.h"
#include "daemon/cmd/report_html.h"

#include <errno.h>
#include <fcntl.h>
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

/* Writes the report to the open stream f (named `name` in errors) and
 * checks that it got there. Returns the exit status after saying why it
 * could not. */
static int finish(FILE *f, struct store *s, const char *name, bool sync)
{
	char err[1024];
	if (!report_html_write(f, s, (double)time(NULL), err, sizeof err)) {
		fclose(f);
		fprintf(stderr, "mpdrec report: %s\n", err);
		return 1;
	}
	errno = 0;
	bool ok = fflush(f) == 0 && !ferror(f) &&
		  (!sync || fsync(fileno(f)) == 0);
	int saved = errno;
	if (fclose(f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		fprintf(stderr, "mpdrec report: cannot write %s: %s\n", name,
			strerror(saved ? saved : EIO));
		return 1;
	}
	return 0;
}

/* Written to as it is: a device, a pipe, a socket (flags 0), or a
 * symbolic link whose target does not exist yet (O_CREAT: open() creates
 * the target through it). */
static int write_direct(struct store *s, const char *path, int flags)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | flags, 0666);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "mpdrec report: cannot write %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	return finish(f, s, path, flags != 0);
}

/* A regular file, or a new one: a temporary file beside it, renamed over
 * it. An existing file keeps its permissions. */
static int write_atomically(struct store *s, const char *path,
			    const struct stat *old)
{
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
	/* mkstemp makes the file 0600; give it the mode the old file had,
	 * or the one a plain create would. */
	mode_t mask = umask(0);
	umask(mask);
	mode_t mode = old ? old->st_mode & 07777 : 0666 & ~mask;
	FILE *f = NULL;
	int rc = 1;
	if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "mpdrec report: cannot write %s: %s\n", path,
			strerror(errno));
		close(fd);
	} else {
		rc = finish(f, s, path, true);
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		fprintf(stderr, "mpdrec report: cannot write %s: %s\n", path,
			strerror(errno));
		rc = 1;
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Writes the report of s to what path is. Returns the exit status. */
static int write_report(struct store *s, const char *path)
{
	if (!strcmp(path, "-")) {
		char err[1024];
		if (!report_html_write(stdout, s, (double)time(NULL), err,
				       sizeof err)) {
			fprintf(stderr, "mpdrec report: %s\n", err);
			return 1;
		}
		/* main checks stdout at the end. */
		return 0;
	}
	/* A link is followed to its target: the rename goes there. */
	char *target = realpath(path, NULL);
	const char *real = target ? target : path;
	struct stat st;
	bool exists = stat(real, &st) == 0;
	int rc;
	if (exists && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mpdrec report: cannot write %s: it is a "
			"directory\n", path);
		rc = 1;
	} else if (exists && !S_ISREG(st.st_mode)) {
		rc = write_direct(s, real, 0);
	} else if (!exists && lstat(path, &st) == 0) {
		/* A link to nothing yet: creating writes through it. */
		rc = write_direct(s, path, O_CREAT | O_TRUNC);
	} else {
		rc = write_atomically(s, real, exists ? &st : NULL);
	}
	free(target);
	if (rc == 0)
		log_info("report written to %s", path);
	return rc;
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
