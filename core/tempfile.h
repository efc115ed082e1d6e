/* A temporary file that one writer at a time fills and renames into place
 * (library.cache, scores.cache): one fixed name beside the target, so that
 * a writer killed midway leaves a file the next one reuses, not one per
 * crash; locked while written, so that two processes (the daemon and a
 * command) never truncate each other's. */
#ifndef MPDREC_TEMPFILE_H
#define MPDREC_TEMPFILE_H

/** tempfile_open()'s result when another process holds the file. */
#define TEMPFILE_BUSY (-2)

/** Opens path (made with mode 600 if missing), takes its lock without
 *  waiting and empties it. Returns the descriptor (the caller's: it
 *  renames path into place, then closes the descriptor, which lets the
 *  lock go; on failure it unlinks path before closing); TEMPFILE_BUSY
 *  when another process holds the lock, or has just renamed the file it
 *  opened into place; -1 with errno set on failure. */
int tempfile_open(const char *path);

#endif
