#include "tests/lib/proc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *proc_mpdrec(void)
{
	const char *b = getenv("MPDREC_BIN");
	return b && *b ? b : "build/mpdrec";
}

double proc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void proc_sleep(double seconds)
{
	struct timespec ts = { (time_t)seconds,
			       (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0)
		;
}

pid_t proc_spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execv(argv[0], argv);
	_exit(127);
}

long proc_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

static bool contains(const char *path, const char *text, long from)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	fseek(f, from, SEEK_SET);
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

bool proc_wait_for(const char *path, const char *text, long from,
		   double timeout_s)
{
	double end = proc_now() + timeout_s;
	do {
		if (contains(path, text, from))
			return true;
		proc_sleep(0.05);
	} while (proc_now() < end);
	return false;
}

int proc_stop(pid_t pid, int sig, double timeout_s, double *seconds)
{
	double start = proc_now();
	kill(pid, sig);
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (proc_now() - start > timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (seconds)
				*seconds = proc_now() - start;
			return -1;
		}
		proc_sleep(0.01);
	}
	if (seconds)
		*seconds = proc_now() - start;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}
