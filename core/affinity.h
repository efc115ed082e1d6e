/* Learned affinities: how much a listener likes the groups a track belongs
 * to — each folder of its path, its artist and album, its genre — from the
 * labelled events of the tracks in them.
 *
 * Groups form a forest: a folder's parent is the folder above it, an
 * album's its artist; top folders, artists and genres hang from the overall
 * like rate. A group's rate is shrunk towards its parent's (a Beta prior of
 * AFFINITY_PRIOR events at the parent's rate), so one skip is no verdict on
 * an artist, and a group never heard from takes its parent's rate. A
 * track's affinity is the odds ratio of its groups' rates against the
 * overall rate, multiplied over its chains (folders; artist and album;
 * genre) with equal weights that sum to one: a song without tags goes by
 * its folders in full. Free of I/O and of the model.
 */
#ifndef MPDREC_AFFINITY_H
#define MPDREC_AFFINITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Weight of the prior, in events at the parent group's rate. */
#define AFFINITY_PRIOR 3.0

struct affinity;

/** Groups for a library of n tracks, none placed yet. Returns NULL when out
 *  of memory. Free with affinity_free(). */
struct affinity *affinity_new(int n);

/** Frees. Accepts NULL. */
void affinity_free(struct affinity *a);

/** Places track i (0 <= i < n) in its groups: the folders of uri (a path
 *  relative to the music directory), its artist, album and genre (NULL or
 *  "" when untagged; tags compare without case). Strings are borrowed for
 *  the call. Call once per track, before any affinity_add(). Returns false
 *  when out of memory. */
bool affinity_set_track(struct affinity *a, int i, const char *uri,
			const char *artist, const char *album,
			const char *genre);

/** Counts one labelled event of track i (label 1 like, 0 dislike) with
 *  weight w > 0 for each of its groups and their parents. */
void affinity_add(struct affinity *a, int i, int label, double w);

/** Recomputes every group's rate after affinity_add(); cheap when nothing
 *  changed. Groups without events of their own cost a copy. */
void affinity_update(struct affinity *a);

/** Keeps a copy of every group's odds factor as of the last update (see
 *  affinity_view's snap). Returns false when out of memory. */
bool affinity_snapshot(struct affinity *a);

/** Whether no event was added since the snapshot. */
bool affinity_snapshot_current(const struct affinity *a);

/** The number of events added so far. */
unsigned long affinity_version(const struct affinity *a);

/** The overall like rate (Laplace-smoothed), as of the last update. */
double affinity_prior(const struct affinity *a);

/** The groups of every track, for a fast pass over a library: per chain
 *  (folder, tag, genre) the track's innermost group or -1, per group its
 *  artist group or -1 (a track's artist is that of its tag group: see
 *  affinity_artist_in), and per group three odds factors as of the last
 *  affinity_update(), for a track of 1, 2 or 3 chains (its chains share
 *  its evidence). Borrowed; valid until affinity_free(). */
struct affinity_view {
	const int32_t *chain[3];	/* n each */
	const int32_t *artist_of;	/* groups: itself for an artist,
					   its parent for an album, else
					   -1 */
	const float *odds;		/* 3 × groups */
	const float *snap;		/* 3 × groups, at the snapshot, or
					   NULL */
	int groups;
};

/** Fills *v. */
void affinity_view(const struct affinity *a, struct affinity_view *v);

/** The odds factor of track i: by how much its groups multiply the odds
 *  of a like (1: nothing known). */
static inline float affinity_odds_of(const struct affinity_view *v, int i)
{
	int g[3], c = 0;
	for (int k = 0; k < 3; k++)
		if (v->chain[k][i] >= 0)
			g[c++] = v->chain[k][i];
	float f = 1.0f;
	for (int k = 0; k < c; k++)
		f *= v->odds[3 * g[k] + c - 1];
	return f;
}

/** The artist group of track i, or -1 when untagged. */
static inline int affinity_artist_in(const struct affinity_view *v, int i)
{
	int t = v->chain[1][i];
	return t >= 0 ? v->artist_of[t] : -1;
}

/** The number of tracks whose artist, or innermost group of a chain, is
 *  group g. */
int affinity_members(const struct affinity *a, int g);

/** The artist group of track i, or -1 when untagged. */
int affinity_artist(const struct affinity *a, int i);

/** Describes in words the group of track i that says the most about it
 *  ("you liked 5 of 6 songs in folder music/rock"), into buf. Returns
 *  false (buf "") when none of its groups has events. */
bool affinity_describe(const struct affinity *a, int i, char *buf,
		       size_t size);

#endif
