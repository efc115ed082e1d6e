#include "tests/lib/harness.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;
static bool current_failed;
static const char *current_name = "";
static char tmpdir[4096];

bool harness_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	if (ok)
		return true;
	current_failed = true;
	fprintf(stderr, "%s:%d: %s: check failed: ", file, line, current_name);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

void harness_run(const char *name, void (*fn)(void))
{
	current_name = name;
	current_failed = false;
	fn();
	if (current_failed) {
		failed++;
		printf("FAIL %s\n", name);
	} else {
		passed++;
		printf("ok   %s\n", name);
	}
	fflush(stdout);
}

int harness_finish(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	fflush(stdout);
	return failed == 0 && passed > 0 ? 0 : 1;
}

static pid_t tmpdir_owner;

static void remove_tmpdir(void)
{
	/* Children forked by tests exit through _exit or exec; only the
	 * process that made the directory removes it. */
	if (tmpdir[0] && getpid() == tmpdir_owner && !getenv("HARNESS_KEEP"))
		harness_system("rm -rf '%s'", tmpdir);
}

const char *harness_tmpdir(void)
{
	if (tmpdir[0])
		return tmpdir;
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/mpdrec-test-XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", tmpdir,
			strerror(errno));
		exit(1);
	}
	tmpdir_owner = getpid();
	atexit(remove_tmpdir);
	return tmpdir;
}

static void put_le(FILE *f, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		fputc((int)((v >> (8 * i)) & 0xff), f);
}

bool harness_write_wav(const char *path, const float *samples, size_t frames,
		       int channels, int rate)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	uint32_t data = (uint32_t)(frames * (size_t)channels * 2);
	fwrite("RIFF", 1, 4, f);
	put_le(f, 36 + data, 4);
	fwrite("WAVEfmt ", 1, 8, f);
	put_le(f, 16, 4);
	put_le(f, 1, 2);
	put_le(f, (uint32_t)channels, 2);
	put_le(f, (uint32_t)rate, 4);
	put_le(f, (uint32_t)(rate * channels * 2), 4);
	put_le(f, (uint32_t)(channels * 2), 2);
	put_le(f, 16, 2);
	fwrite("data", 1, 4, f);
	put_le(f, data, 4);
	for (size_t i = 0; i < frames * (size_t)channels; i++) {
		float s = samples[i];
		s = s > 1.f ? 1.f : s < -1.f ? -1.f : s;
		int v = (int)(s * 32767.f);
		put_le(f, (uint32_t)(uint16_t)(int16_t)v, 2);
	}
	return fclose(f) == 0;
}

bool harness_write_float_wav(const char *path, const float *mono,
			     size_t frames, int channels, int rate)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	uint32_t ch = (uint32_t)channels;
	uint32_t data = (uint32_t)(frames * ch * 4);
	fwrite("RIFF", 1, 4, f);
	put_le(f, 36 + data, 4);
	fwrite("WAVEfmt ", 1, 8, f);
	put_le(f, 16, 4);
	put_le(f, 3, 2);		/* IEEE float */
	put_le(f, ch, 2);
	put_le(f, (uint32_t)rate, 4);
	put_le(f, (uint32_t)rate * ch * 4, 4);
	put_le(f, ch * 4, 2);
	put_le(f, 32, 2);
	fwrite("data", 1, 4, f);
	put_le(f, data, 4);
	for (size_t i = 0; i < frames; i++) {
		uint32_t bits;
		memcpy(&bits, &mono[i], 4);
		for (uint32_t c = 0; c < ch; c++)
			put_le(f, bits, 4);
	}
	return fclose(f) == 0;
}

bool harness_write_track(const char *path, const float *mono, size_t frames,
			 int rate)
{
	return harness_write_float_wav(path, mono, frames, 2, rate);
}

int harness_system(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[8300];
	snprintf(full, sizeof full, "%s%s", cmd,
		 getenv("HARNESS_VERBOSE") ? "" : " >/dev/null 2>&1");
	int rc = system(full);
	if (rc == -1)
		return -1;
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
