#include "tests/lib/fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

/* xorshift64*: fixtures are the same on every run. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static double uniform(uint64_t *s)
{
	return (double)(next(s) >> 11) / 9007199254740992.0;
}

static void click_at(float *x, size_t n, int rate, size_t at, double amp,
		     uint64_t *s)
{
	size_t len = (size_t)(0.005 * rate);
	for (size_t i = 0; i < len && at + i < n; i++) {
		double env = exp(-(double)i / (0.001 * rate));
		x[at + i] += (float)(amp * env * (2 * uniform(s) - 1));
	}
}

void fixture_clicks(float *x, size_t n, int rate, double bpm, double amp)
{
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	memset(x, 0, n * sizeof *x);
	double period = 60.0 / bpm * rate;
	for (double t = 0.1 * rate; t < (double)n; t += period)
		click_at(x, n, rate, (size_t)t, amp, &s);
}

void fixture_random_clicks(float *x, size_t n, int rate, double bpm,
			   double amp, uint64_t seed)
{
	uint64_t s = seed | 1;
	memset(x, 0, n * sizeof *x);
	double mean = 60.0 / bpm * rate;
	for (double t = 0.1 * rate; t < (double)n;
	     t += -log(1 - uniform(&s)) * mean + 0.02 * rate)
		click_at(x, n, rate, (size_t)t, amp, &s);
}

void fixture_sine(float *x, size_t n, int rate, double hz, double amp)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(amp * sin(2 * M_PI * hz * (double)i / rate));
}

void fixture_chord(float *x, size_t n, int rate, const double *hz, int k,
		   double amp)
{
	size_t fade = (size_t)(0.01 * rate);
	for (size_t i = 0; i < n; i++) {
		double v = 0;
		for (int j = 0; j < k; j++)
			v += sin(2 * M_PI * hz[j] * (double)i / rate);
		double g = 1;
		if (i < fade)
			g = (double)i / fade;
		else if (n - i < fade)
			g = (double)(n - i) / fade;
		x[i] = (float)(amp / k * v * g);
	}
}

void fixture_noise(float *x, size_t n, double amp, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(amp * (2 * uniform(&s) - 1));
}

void fixture_am_noise(float *x, size_t n, int rate, double mod_hz, double amp,
		      uint64_t seed)
{
	fixture_noise(x, n, amp, seed);
	for (size_t i = 0; i < n; i++)
		x[i] *= (float)(0.5 * (1 + cos(2 * M_PI * mod_hz *
						  (double)i / rate)));
}

double fixture_note(int midi)
{
	return 440.0 * pow(2.0, (midi - 69) / 12.0);
}

char *fixture_wav(const char *dir, const char *name, const float *x,
		  size_t n, int rate)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = malloc(len);
	if (!path)
		return NULL;
	snprintf(path, len, "%s/%s", dir, name);
	if (!harness_write_wav(path, x, n, 1, rate)) {
		free(path);
		return NULL;
	}
	return path;
}

bool fixture_float_wav(const char *path, const float *x, size_t n, int rate)
{
	return harness_write_float_wav(path, x, n, 1, rate);
}

char *fixture_encode(const char *wav, const char *ext)
{
	const char *codec = strcmp(ext, "flac") == 0	? "flac"
			    : strcmp(ext, "ogg") == 0	? "libvorbis -q:a 6"
			    : strcmp(ext, "opus") == 0	? "libopus -b:a 128k"
			    : strcmp(ext, "mp3") == 0	? "libmp3lame -b:a 192k"
							: NULL;
	if (!codec)
		return NULL;
	const char *dot = strrchr(wav, '.');
	size_t base = dot ? (size_t)(dot - wav) : strlen(wav);
	size_t len = base + strlen(ext) + 2;
	char *out = malloc(len);
	if (!out)
		return NULL;
	snprintf(out, len, "%.*s.%s", (int)base, wav, ext);
	if (harness_system("ffmpeg -nostdin -v error -y -i '%s' -c:a %s '%s'",
			   wav, codec, out) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

bool fixture_truncate_copy(const char *src, const char *dst, long bytes)
{
	FILE *in = fopen(src, "rb");
	if (!in)
		return false;
	FILE *out = fopen(dst, "wb");
	if (!out) {
		fclose(in);
		return false;
	}
	char buf[4096];
	long left = bytes;
	size_t got;
	while (left > 0 &&
	       (got = fread(buf, 1,
			    left < (long)sizeof buf ? (size_t)left : sizeof buf,
			    in)) > 0) {
		fwrite(buf, 1, got, out);
		left -= (long)got;
	}
	fclose(in);
	return fclose(out) == 0;
}

bool fixture_random_file(const char *path, long bytes, uint64_t seed)
{
	uint64_t s = seed | 1;
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	for (long i = 0; i < bytes; i++)
		fputc((int)(next(&s) >> 56), f);
	return fclose(f) == 0;
}
