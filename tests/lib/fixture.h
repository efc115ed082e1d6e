/* Audio fixtures with known answers, for the features tests and benchmark:
 * click tracks, sines and chords, white and amplitude-modulated noise, as
 * mono float samples; written as WAV and encoded to FLAC, Ogg Vorbis, Opus
 * or MP3 with the `ffmpeg` program. Deterministic for a given seed.
 */
#ifndef MPDREC_FIXTURE_H
#define MPDREC_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Fills x (n samples at rate Hz) with a click every 60/bpm s: 5 ms
 *  decaying noise bursts at amplitude amp, the first at 0.1 s. */
void fixture_clicks(float *x, size_t n, int rate, double bpm, double amp);

/** Like fixture_clicks() but at random times (exponential gaps with the
 *  same mean rate), seeded. */
void fixture_random_clicks(float *x, size_t n, int rate, double bpm,
			   double amp, uint64_t seed);

/** Fills x with a sine of hz at peak amplitude amp. */
void fixture_sine(float *x, size_t n, int rate, double hz, double amp);

/** Fills x with the sum of k sines (equal amplitude, peak sum <= amp), with
 *  10 ms fades at both ends. */
void fixture_chord(float *x, size_t n, int rate, const double *hz, int k,
		   double amp);

/** Fills x with uniform white noise of peak amplitude amp, seeded. */
void fixture_noise(float *x, size_t n, double amp, uint64_t seed);

/** White noise whose amplitude follows (1 + cos(2π mod_hz t)) / 2. */
void fixture_am_noise(float *x, size_t n, int rate, double mod_hz, double amp,
		      uint64_t seed);

/** MIDI note number to Hz (69 = A4 = 440 Hz). */
double fixture_note(int midi);

/** Writes x (mono) as dir/name (16-bit WAV). Returns the path (caller
 *  frees) or NULL. */
char *fixture_wav(const char *dir, const char *name, const float *x,
		  size_t n, int rate);

/** Writes x (mono) as a 32-bit float WAV (format 3), any value included
 *  (NaN, infinities). Returns false when it cannot write. */
bool fixture_float_wav(const char *path, const float *x, size_t n, int rate);

/** Encodes a WAV to the format its new extension names ("flac", "ogg"
 *  Vorbis, "opus", "mp3") with ffmpeg, next to it. Returns the new path
 *  (caller frees) or NULL when ffmpeg failed. */
char *fixture_encode(const char *wav, const char *ext);

/** Copies the first `bytes` bytes of src to dst (a truncated file). */
bool fixture_truncate_copy(const char *src, const char *dst, long bytes);

/** Writes `bytes` seeded random bytes to path. */
bool fixture_random_file(const char *path, long bytes, uint64_t seed);

#endif
