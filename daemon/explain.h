/* Explanations a listener reads: why a track may please, in words drawn
 * from the feature table ("quieter and slower than what you skip") and
 * from the history (the liked tracks it sounds like, and how each was
 * liked: played to the end, or said so). Evidence differs from pick to
 * pick where the history allows: a track named for one pick is named for
 * another only when nothing else liked is as close.
 *
 * Used by `mpdrec recommend --explain`, by the queue filler's pick reasons,
 * by `mpdrec status` and by the report ("what it learned"). Never prints.
 */
#ifndef MPDREC_EXPLAIN_H
#define MPDREC_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

struct store;
struct store_library;

/** A feature a listener can name, with the comparatives for more and less
 *  of it ("louder", "quieter") and what it is ("loudness"). Static. */
struct explain_word {
	const char *feature;	/* name in the feature table */
	const char *what;	/* a noun: "loudness", "energy", ... */
	const char *more, *less;
};

/** Returns the table of nameable features; *count receives its length.
 *  Static. Features the table lacks are skipped by everything here. */
const struct explain_word *explain_words(int *count);

struct explain;

/** Builds an explainer over lib (borrowed: it must outlive the explainer)
 *  and the labelled events of s (each track's latest label, and how it
 *  came). Returns NULL with the reason in err on a database error or when
 *  out of memory. Free with explain_free(). */
struct explain *explain_new(const struct store_library *lib, struct store *s,
			    char *err, size_t err_size);

/** Frees; accepts NULL. */
void explain_free(struct explain *e);

/** Writes one or two sentences about library track i into buf: the liked
 *  tracks it is nearest to (not those named for earlier picks, where
 *  others are as near), how it differs from what the listener skips, and,
 *  when `spread` (the ensemble's disagreement, NAN if unknown) is large,
 *  that the model is unsure. Remembers the tracks it named. Returns buf. */
const char *explain_pick(struct explain *e, int i, double spread, char *buf,
			 size_t size);

/** Writes what the history says of the listener's taste into buf ("You
 *  play to the end music that is quieter and calmer than what you skip
 *  (19 likes, 12 skips)"), or why it cannot say yet. Returns buf. */
const char *explain_taste(const struct explain *e, char *buf, size_t size);

/** For nameable feature k (index into explain_words()): the mean of the
 *  liked and of the skipped tracks, in the feature's unit, and how far
 *  apart they are in units of the library's spread (its interquartile
 *  range). Returns false when the table lacks the feature or either side
 *  has no track. */
bool explain_contrast(const struct explain *e, int k, double *liked,
		      double *skipped, double *separation);

/** Counts of analysed tracks by their latest label: liked, skipped. */
void explain_counts(const struct explain *e, int *liked, int *skipped);

#endif
