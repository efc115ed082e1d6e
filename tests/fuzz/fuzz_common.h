/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): the entry point's
 * prototype, a check that stops the run with a message, and one scratch file
 * per process that every input overwrites.
 *
 * The scratch file exists when the harness defines FUZZ_SCRATCH before
 * including this header. Its directory is $FUZZ_TMPDIR when run.sh sets it
 * (run.sh removes it afterwards), else one per user under /dev/shm (or
 * /tmp); the file is removed at a normal exit.
 */
#ifndef MPDREC_FUZZ_COMMON_H
#define MPDREC_FUZZ_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** libFuzzer calls this once per input; 0 always (crashes are aborts). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** libFuzzer calls this once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant that does not hold is a finding: say which and abort, so
 * libFuzzer keeps the input as a crash artifact. */
#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz: %s:%d: check failed: %s: ", \
				__FILE__, __LINE__, #cond);                \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			abort();                                           \
		}                                                          \
	} while (0)

#ifdef FUZZ_SCRATCH
#include <sys/stat.h>

static char fuzz_path[4096];

static void fuzz_cleanup(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

/* Returns the path of this process's scratch file `name`, making the
 * directory on first use. Without $FUZZ_TMPDIR the directory is one per
 * user (/dev/shm/mpdrec-fuzz-UID, else under /tmp) and the file name
 * carries the process id, so parallel runs (-jobs, -minimize_crash) do not
 * collide and a run that crashes leaves one small file, not a directory.
 * Static storage; aborts on failure (the harness cannot run without it). */
static const char *fuzz_scratch_path(const char *name)
{
	if (fuzz_path[0])
		return fuzz_path;
	char dir[512];
	const char *env = getenv("FUZZ_TMPDIR");
	if (env && *env) {
		snprintf(dir, sizeof dir, "%s", env);
	} else {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
								  : "/tmp";
		snprintf(dir, sizeof dir, "%s/mpdrec-fuzz-%u", base,
			 (unsigned)getuid());
		struct stat st;
		bool ours = mkdir(dir, 0700) == 0 ||
			    (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
			     st.st_uid == getuid());
		FUZZ_CHECK(ours, "%s is not a directory of ours", dir);
	}
	snprintf(fuzz_path, sizeof fuzz_path, "%s/%ld-%s", dir,
		 (long)getpid(), name);
	atexit(fuzz_cleanup);
	return fuzz_path;
}

/* Writes data (size bytes) to the scratch file `name` (one name per
 * process), replacing what the previous input left there. Returns its path
 * (static storage). */
static const char *fuzz_scratch_write(const char *name, const uint8_t *data,
				      size_t size)
{
	const char *path = fuzz_scratch_path(name);
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL, "cannot create %s", path);
	FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size,
		   "cannot write %s", path);
	FUZZ_CHECK(fclose(f) == 0, "cannot write %s", path);
	return path;
}
#endif /* FUZZ_SCRATCH */

#endif
