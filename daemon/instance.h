/* One daemon per data directory, and its pidfile. Two daemons on one
 * database would store every like and skip twice; a systemd unit and a
 * terminal run are an ordinary mistake. The data directory's lock is an
 * flock() on mpdrec.lock (which holds the pid), held for the daemon's life
 * and released by the kernel however it ends, so a lock is never stale. A
 * pidfile is locked the same way: a live one is refused, a stale one (its
 * daemon gone) is taken over. */
#ifndef MPDREC_INSTANCE_H
#define MPDREC_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>

struct instance;

/** Takes the lock of data directory `dir` (which exists) for this process
 *  and writes its pid into dir/mpdrec.lock. Returns the instance (release
 *  with instance_free()), or NULL with the reason in err: another daemon
 *  holds it ("another mpdrec (pid 1234) runs on DIR"), or the file cannot
 *  be made (a read-only directory). */
struct instance *instance_lock(const char *dir, char *err, size_t err_size);

/** Takes the pidfile `path` and writes this process's pid into it (a
 *  daemon that forked calls it in its last child). Refuses a pidfile that
 *  a running mpdrec holds (locked, or naming a live process called mpdrec)
 *  and names its pid; takes over a stale one. Returns false with the
 *  reason in err (also when the file cannot be created: a missing
 *  directory). */
bool instance_pidfile(struct instance *i, const char *path, char *err,
		      size_t err_size);

/** Removes the pidfile (if this instance took one) and releases the
 *  locks. Accepts NULL. */
void instance_free(struct instance *i);

#endif
