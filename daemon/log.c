#include "daemon/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
/* A reload opens the file again while other threads (the scan, a retrain)
 * write: the lock keeps a writer off a file being closed. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static bool also_stderr;

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

bool log_setup(enum log_level level, const char *path)
{
	log_threshold = level;
	if (!path)
		return true;
	/* The log names the songs heard: private, like the data directory. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&lock);
	FILE *old = log_file;
	log_file = f;
	pthread_mutex_unlock(&lock);
	if (old)
		fclose(old);
	return true;
}

bool log_file_active(void)
{
	return log_file != NULL;
}

void log_also_stderr(bool on)
{
	also_stderr = on;
}

void log_close(void)
{
	pthread_mutex_lock(&lock);
	FILE *old = log_file;
	log_file = NULL;
	pthread_mutex_unlock(&lock);
	if (old)
		fclose(old);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	pthread_mutex_lock(&lock);
	FILE *f = log_file ? log_file : stderr;
	char stamp[32] = "";
	if (log_file) {
		/* A file has no journald to add the time. */
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S ", &tm);
	}
	va_list ap, copy;
	va_start(ap, fmt);
	va_copy(copy, ap);
	flockfile(f);
	fprintf(f, "%smpdrec: %s: ", stamp, level_names[level]);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	funlockfile(f);
	if (log_file && also_stderr && level <= LOG_WARNING) {
		flockfile(stderr);
		fprintf(stderr, "mpdrec: %s: ", level_names[level]);
		vfprintf(stderr, fmt, copy);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	va_end(copy);
	va_end(ap);
	pthread_mutex_unlock(&lock);
}
