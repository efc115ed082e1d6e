/* A scripted listener with a hidden taste, for the queue test, the demo and
 * the benchmark: a library in two clearly different styles (slow, soft and
 * tonal against fast, percussive and noisy), and a listener who plays the
 * soft style to its end and skips the noisy one after a moment. */
#ifndef MPDREC_LISTENER_H
#define MPDREC_LISTENER_H

#include <stdbool.h>

struct mpd_connection;

/** Writes per_style tracks of each style, `seconds` long, as WAV files into
 *  dir (soft_NN.wav, noisy_NN.wav). Returns false when it cannot write. */
bool listener_make_library(const char *dir, int per_style, double seconds);

/** The same with n_soft soft and n_noisy noisy tracks. */
bool listener_make_styles(const char *dir, int n_soft, int n_noisy,
			  double seconds);

/** The same library as FLAC files with tags: soft_NN.flac by artist
 *  "Soft A" (even NN) or "Soft B" (odd), album "Calm A"/"Calm B", genre
 *  "Ambient"; noisy_NN.flac by "Noise A"/"Noise B", album "Loud A"/"Loud
 *  B", genre "Industrial". Uses the ffmpeg program. Returns false when it
 *  cannot write. */
bool listener_make_tagged_library(const char *dir, int per_style,
				  double seconds);

/** Whether the listener likes the track at uri (its hidden taste). */
bool listener_likes(const char *uri);

/** Gives the listener another taste (the demo's, on real music): likes(uri,
 *  ctx) decides instead of listener_likes(); NULL restores it. */
void listener_set_taste(bool (*likes)(const char *uri, void *ctx),
			void *ctx);

/** Called for every song the listener hears: its number (from 0), its uri,
 *  and whether the listener liked it. Return false to stop listening. */
typedef bool (*listener_fn)(int n, const char *uri, bool liked, void *ctx);

/** Listens on connection c (playback already started) until fn returns
 *  false or `timeout_s` passes: plays liked songs to their end, skips the
 *  others after skip_s seconds. Returns the number of songs heard. */
int listener_run(struct mpd_connection *c, double skip_s, double timeout_s,
		 listener_fn fn, void *ctx);

/** A hidden taste: whether the listener likes the track at uri. */
typedef bool (*listener_taste_fn)(const char *uri, void *ctx);

/** listener_run() with another taste than listener_likes(). */
int listener_run_taste(struct mpd_connection *c, double skip_s,
		       double timeout_s, listener_taste_fn likes,
		       void *likes_ctx, listener_fn fn, void *ctx);

/** Tracks ANALYSED in the store under data_dir (0 when it cannot open). */
int listener_analysed(const char *data_dir);

/** Waits until data_dir's store holds n analysed tracks, at most
 *  timeout_s; returns how many it holds. */
int listener_wait_analysed(const char *data_dir, int n, double timeout_s);

/** Starts listening as a person does: clears the queue, adds uri (a song
 *  of their own choosing) and presses play; mpdrec fills the queue after
 *  it. Returns false when an MPD command failed. */
bool listener_begin(struct mpd_connection *c, const char *uri);

/** Waits until MPD's queue holds at least n songs (mpdrec's first picks),
 *  at most timeout_s. Returns whether it does. */
bool listener_wait_queue(struct mpd_connection *c, unsigned n,
			 double timeout_s);

#endif
