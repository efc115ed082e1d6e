#include "daemon/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_FILE "mpdrec.lock"

struct instance {
	int lock_fd;		/* mpdrec.lock, flock()ed */
	int pid_fd;		/* the pidfile, flock()ed; -1 none */
	char *pidfile;
};

/* The pid written in an open file, or 0. */
static long read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

static bool write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n;
}

/* Opens `path` and takes its lock without waiting. Returns the descriptor,
 * or -1 with errno (EWOULDBLOCK: someone holds it; *holder then gets the
 * pid the file names). */
static int lock_file(const char *path, int flags, long *holder)
{
	*holder = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | flags, 0644);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		*holder = read_pid(fd);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct instance *instance_lock(const char *dir, char *err, size_t err_size)
{
	struct instance *i = calloc(1, sizeof *i);
	char *path = NULL;
	if (!i || asprintf(&path, "%s/%s", dir, LOCK_FILE) < 0) {
		snprintf(err, err_size, "out of memory");
		free(i);
		return NULL;
	}
	i->pid_fd = -1;
	long holder;
	i->lock_fd = lock_file(path, 0, &holder);
	if (i->lock_fd < 0 && errno == EWOULDBLOCK) {
		if (holder)
			snprintf(err, err_size, "another mpdrec (pid %ld) runs "
				 "on the data directory %s; one daemon per "
				 "data directory", holder, dir);
		else
			snprintf(err, err_size, "another mpdrec runs on the "
				 "data directory %s (%s is locked)", dir, path);
	} else if (i->lock_fd < 0) {
		snprintf(err, err_size, "cannot lock the data directory: %s: "
			 "%s", path, strerror(errno));
	} else if (fchmod(i->lock_fd, 0600) != 0 || !write_pid(i->lock_fd)) {
		snprintf(err, err_size, "cannot write %s: %s", path,
			 strerror(errno));
		close(i->lock_fd);
		i->lock_fd = -1;
	}
	free(path);
	if (i->lock_fd < 0) {
		free(i);
		return NULL;
	}
	return i;
}

/* Whether pid is a live process named mpdrec: a pidfile written by a
 * daemon that held no lock on it. */
static bool live_mpdrec(long pid)
{
	if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) != 0)
		return false;
	char path[64], comm[64] = "";
	snprintf(path, sizeof path, "/proc/%ld/comm", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool named = fgets(comm, sizeof comm, f) &&
		     !strncmp(comm, "mpdrec", 6);
	fclose(f);
	return named;
}

bool instance_pidfile(struct instance *i, const char *path, char *err,
		      size_t err_size)
{
	long holder;
	int fd = lock_file(path, O_NOFOLLOW, &holder);
	if (fd < 0 && errno == EWOULDBLOCK) {
		snprintf(err, err_size, "pidfile %s: a running mpdrec holds it "
			 "(pid %ld)", path, holder);
		return false;
	}
	if (fd < 0) {
		snprintf(err, err_size, "cannot open the pidfile %s: %s", path,
			 strerror(errno));
		return false;
	}
	long old = read_pid(fd);
	if (live_mpdrec(old)) {
		snprintf(err, err_size, "pidfile %s: mpdrec pid %ld is running",
			 path, old);
		close(fd);
		return false;
	}
	if (!write_pid(fd)) {
		snprintf(err, err_size, "cannot write the pidfile %s: %s",
			 path, strerror(errno));
		close(fd);
		return false;
	}
	i->pidfile = strdup(path);
	if (!i->pidfile) {
		snprintf(err, err_size, "out of memory");
		close(fd);
		return false;
	}
	i->pid_fd = fd;
	return true;
}

void instance_free(struct instance *i)
{
	if (!i)
		return;
	if (i->pidfile) {
		/* Ours while we hold its lock: nobody else wrote it since. */
		unlink(i->pidfile);
		free(i->pidfile);
	}
	if (i->pid_fd >= 0)
		close(i->pid_fd);
	if (i->lock_fd >= 0)
		close(i->lock_fd);
	free(i);
}
