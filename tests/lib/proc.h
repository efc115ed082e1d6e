/* Child processes for integration tests: the mpdrec daemon, started with
 * its output in a log file, watched, signalled and reaped. */
#ifndef MPDREC_PROC_H
#define MPDREC_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/** The mpdrec binary to test: $MPDREC_BIN, else build/mpdrec. Static. */
const char *proc_mpdrec(void);

/** Starts argv[0] with argv, stdout and stderr appended to `log`.
 *  Returns the pid, or -1. */
pid_t proc_spawn(char *const argv[], const char *log);

/** Waits up to timeout_s for the file `path` to contain `text` (from byte
 *  offset `from` on). Returns true when it does. */
bool proc_wait_for(const char *path, const char *text, long from,
		   double timeout_s);

/** Size of a file in bytes (0 if missing): an offset for proc_wait_for. */
long proc_file_size(const char *path);

/** Sends sig and waits up to timeout_s for the child to exit. Returns its
 *  exit status (0-255), 128+signal when killed, or -1 on timeout (it is
 *  then killed with SIGKILL and reaped). *seconds (may be NULL) receives
 *  how long it took. */
int proc_stop(pid_t pid, int sig, double timeout_s, double *seconds);

/** Sleeps for a number of seconds (fractions allowed). */
void proc_sleep(double seconds);

/** Monotonic seconds. */
double proc_now(void);

#endif
