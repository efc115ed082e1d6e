#include "core/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int tempfile_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat held, named;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &held) != 0 ||
	    stat(path, &named) != 0 || held.st_ino != named.st_ino ||
	    held.st_dev != named.st_dev) {
		close(fd);
		return TEMPFILE_BUSY;
	}
	if (ftruncate(fd, 0) != 0) {
		int e = errno;
		unlink(path);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
