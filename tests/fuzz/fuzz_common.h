/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c): the entry point's
 * prototype, a check that stops the run with a message, and one scratch file
 * per process that every input overwrites.
 *
 * The scratch file exists when the harness defines FUZZ_SCRATCH before
 * including this header. Its directory is $FUZZ_TMPDIR when run.sh sets it
 * (run.sh removes it afterwards), else a private directory made under
 * /dev/shm (or /tmp) and removed at exit.
 */
#ifndef MPDREC_FUZZ_COMMON_H
#define MPDREC_FUZZ_COMMON_H

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
static char fuzz_dir[512];
static int fuzz_dir_ours;	/* made here: removed at exit */
static char fuzz_removing[4096];

static void fuzz_cleanup(void)
{
	if (fuzz_removing[0])
		unlink(fuzz_removing);
	if (fuzz_dir_ours)
		rmdir(fuzz_dir);
}

/* Returns the path of the scratch file `name` in the scratch directory,
 * making the directory on first use. Static storage; aborts on failure
 * (the harness cannot run without it). */
static const char *fuzz_scratch_path(const char *name)
{
	static char path[sizeof fuzz_removing];
	if (!fuzz_dir[0]) {
		const char *env = getenv("FUZZ_TMPDIR");
		if (env && *env) {
			snprintf(fuzz_dir, sizeof fuzz_dir, "%s", env);
		} else {
			const char *base = access("/dev/shm", W_OK) == 0
						   ? "/dev/shm" : "/tmp";
			snprintf(fuzz_dir, sizeof fuzz_dir,
				 "%s/mpdrec-fuzz.XXXXXX", base);
			FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL, "mkdtemp %s",
				   fuzz_dir);
			fuzz_dir_ours = 1;
		}
		atexit(fuzz_cleanup);
	}
	snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
	snprintf(fuzz_removing, sizeof fuzz_removing, "%s", path);
	return path;
}

/* Writes data (size bytes) to the scratch file `name`, replacing what the
 * previous input left there. Returns its path (static storage). */
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
