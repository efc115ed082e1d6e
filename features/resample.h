/* Rate conversion of mono float audio down (or up) to the analysis rate.
 *
 * A rate that is the analysis rate times a power of two (44.1, 88.2, 176.4
 * kHz to 22.05 kHz) is halved by half-band FIR filters, a few multiplies per
 * output sample; any other rate is halved as long as that keeps it at or
 * above the target (48 kHz to 24 kHz) and the rest is left to libswresample
 * on the one channel. Output sample i is input sample i·(in / out): the
 * half-band stages add no delay.
 *
 *	struct resample *r = resample_new(in_rate, DECODE_RATE, err, size);
 *	n = resample_do(r, in, n_in, out, cap);   ... cap >= resample_room()
 *	(or write into resample_input(r, n_in), then resample_push())
 *	n = resample_flush(r, out, cap);          at the end of the stream
 *	resample_free(r);
 */
#ifndef MPDREC_RESAMPLE_H
#define MPDREC_RESAMPLE_H

#include <stddef.h>

struct resample;

/** A converter from in_rate to out_rate (both > 0). Returns NULL with the
 *  reason in err (out of memory, a rate libswresample refuses). Free with
 *  resample_free(). */
struct resample *resample_new(int in_rate, int out_rate, char *err,
			      size_t err_size);

/** The most samples resample_do() or resample_flush() can write for n
 *  input samples (n = 0 for a flush). */
long resample_room(const struct resample *r, long n);

/** Converts n input samples, writing at most cap output samples to out
 *  (cap >= resample_room(r, n)). Returns the count written, or -1 when out
 *  of memory or libswresample fails. */
long resample_do(struct resample *r, const float *in, long n, float *out,
		 long cap);

/** Room for n input samples that the caller writes in place, saving a
 *  copy: borrowed, valid until the next call. Returns NULL when out of
 *  memory. resample_push() then converts them. */
float *resample_input(struct resample *r, long n);

/** resample_do() on the n samples written through resample_input(). */
long resample_push(struct resample *r, long n, float *out, long cap);

/** Writes what the filters still hold at the end of the stream. Returns the
 *  count, or -1 on failure. The converter is then as after a reset. */
long resample_flush(struct resample *r, float *out, long cap);

/** Forgets the signal so far (after a seek). */
void resample_reset(struct resample *r);

/** The half-band stages in use (for the tests): 1 for 44.1 kHz. */
int resample_halvings(const struct resample *r);

/** Whether libswresample does the last step (for the tests). */
int resample_uses_swr(const struct resample *r);

/** Frees r. Accepts NULL. */
void resample_free(struct resample *r);

#endif
