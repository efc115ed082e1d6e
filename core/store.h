/* The SQLite store (WAL): tracks, events, picks, the model blob and a schema
 * version. Every write is one transaction; a killed process loses no event
 * whose store_add_event() returned true. Never prints: errors are kept as text
 * and read with store_error().
 *
 * One struct store is one SQLite connection, for one thread at a time; several
 * threads and processes share the file, each with its own store_open().
 */
#ifndef MPDREC_STORE_H
#define MPDREC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/** Analysis status of a track. */
enum store_status {
	STORE_PENDING = 0,	/* new or changed: to analyse */
	STORE_ANALYSED = 1,	/* has a feature vector */
	STORE_FAILED = 2,	/* analysis failed; skipped until mtime changes */
	STORE_GONE = 3,		/* no longer in MPD's database */
};

/** What happened to a song (events.kind). */
enum store_kind {
	STORE_KIND_PLAYED = 0,	/* played to its end (implicit like) */
	STORE_KIND_SKIPPED = 1,	/* changed with much left (implicit dislike) */
	STORE_KIND_UNLABELLED = 2, /* stop, clear, too short...: kept, no label */
	STORE_KIND_LIKE = 3,	/* explicit, from the channel or the CLI */
	STORE_KIND_DISLIKE = 4,
	STORE_KIND_BAN = 5,	/* explicit dislike that also bans the track */
};

/** Returns the kind's name for people ("played", "skipped", "no label",
 *  "like", "dislike", "ban"); static, never NULL. */
const char *store_kind_name(enum store_kind k);

/** Track metadata as MPD reports it. Strings borrowed by the store calls. */
struct store_track_info {
	const char *uri;
	int64_t mtime;		/* MPD's Last-Modified, seconds since epoch */
	const char *artist;	/* NULL when untagged */
	const char *album;
	const char *title;
	const char *genre;
	double duration;	/* seconds, 0 if unknown */
};

/** One event. On input, uri is borrowed; label is 1 like, 0 dislike, -1 none. */
struct store_event {
	int64_t id;		/* set by store_add_event */
	double time;		/* seconds since epoch */
	const char *uri;
	enum store_kind kind;
	double played;		/* seconds heard */
	double duration;	/* seconds */
	int label;
	double weight;
	const char *source;	/* "watch", "channel", "cli", "sticker" */
	bool queued_by_us;	/* mpdrec had queued this song */
};

/** One pick of the queue filler. uri and reason borrowed. */
struct store_pick {
	double time;
	const char *uri;
	double score;
	double uncertainty;
	bool explored;
	const char *reason;
};

/** Opens (creating if needed) `dir`/mpdrec.db: the directory is created 0700,
 *  the files 0600, WAL mode, schema migrated forward. A database with a newer
 *  schema than this program knows is refused. Returns a store the caller
 *  frees with store_close(), or NULL with the reason in err: it names the
 *  file and says why (newer schema "N ... (M)", read-only database or
 *  directory, permission denied, not a database). Safe to call while other
 *  connections of this or another process have the file open. */
struct store *store_open(const char *dir, char *err, size_t err_size);

/** Closes the database (checkpointing WAL). Accepts NULL. */
void store_close(struct store *s);

/** Returns the last error as "what: SQLite's message"; borrowed, valid until
 *  the next call on s. */
const char *store_error(const struct store *s);

/** Returns the schema version this program writes. */
int store_schema_version(void);

/** Returns the path of the database file; borrowed, valid until
 *  store_close(). */
const char *store_path(const struct store *s);

/** Runs SQLite's `PRAGMA integrity_check`. Returns true when it says "ok";
 *  false with its first complaint (or the SQLite error) in store_error(). */
bool store_check_integrity(struct store *s);

/** Caps the database file at about `bytes` (PRAGMA max_page_count, this
 *  connection only); a write beyond fails as SQLite's "database or disk is
 *  full", exactly as a full disk does, and stores nothing. For quotas and the
 *  disk-full tests. Returns false on error. */
bool store_set_max_size(struct store *s, int64_t bytes);

/* --- tracks ------------------------------------------------------------ */

/** Starts a library sync: every track not passed to store_sync_track() before
 *  store_sync_end() is marked GONE. One transaction, which holds SQLite's
 *  write lock until store_sync_end()/store_sync_abort(): other connections
 *  wait for it (busy timeout 10 s), and on this store every other write call
 *  fails ("a library sync is in progress") until it ends. Returns false on
 *  error. */
bool store_sync_begin(struct store *s);

/** Records one track of MPD's database. New tracks, and tracks whose mtime
 *  changed, become PENDING; GONE tracks that are back keep their vector if
 *  the mtime is unchanged. Returns false on error. */
bool store_sync_track(struct store *s, const struct store_track_info *t);

/** Commits the sync (marks the unseen GONE); `gone` (may be NULL) receives how
 *  many became GONE. store_sync_abort() rolls back instead. */
bool store_sync_end(struct store *s, int *gone);
void store_sync_abort(struct store *s);

/** Calls fn(uri, ctx) for every track to analyse: PENDING, or ANALYSED with a
 *  features_version other than `version`. uri is borrowed for the call.
 *  Stops early when fn returns false. Returns false on a database error. */
bool store_each_pending(struct store *s, int version,
			bool (*fn)(const char *uri, void *ctx), void *ctx);

/** Stores the feature vector of uri (n floats) analysed with `version`, and
 *  its duration; the track becomes ANALYSED. Returns false on error. */
bool store_set_features(struct store *s, const char *uri, int version,
			const float *v, int n, double duration);

/** Groups the analysis results that follow (store_set_features,
 *  store_set_failed) into one transaction, committed by store_batch_end():
 *  one disk flush for many tracks. Not for events, which must be durable one
 *  by one. An error inside the batch rolls all of it back (the results can
 *  be computed again); store_batch_end() then returns false. */
bool store_batch_begin(struct store *s);
bool store_batch_end(struct store *s);

/** Marks uri FAILED with a reason (skipped until its mtime changes). */
bool store_set_failed(struct store *s, const char *uri, const char *reason);

/** Counts of tracks by status (index enum store_status). */
bool store_count_tracks(struct store *s, int counts[4]);

/** All ANALYSED tracks with `version` and `dim` features, banned ones
 *  included (see `banned`), sorted by URI, with titles: a library the
 *  caller frees with store_library_free(). Returns NULL on error
 *  (store_error). The strings live in blocks the library owns (a track's
 *  artist may share its string with the track before it). */
struct store_library {
	int n;			/* tracks */
	int dim;		/* features per track */
	char **uri;		/* n strings */
	char **artist;		/* n strings, NULL when untagged */
	char **title;		/* n strings, NULL when untagged; the array
				 * itself is NULL when loaded without titles */
	/* n each: the album's and the genre's name in tags[], -1 when
	 * untagged; both NULL without STORE_LIBRARY_TAGS */
	int32_t *album;
	int32_t *genre;
	char **tags;		/* n_tags names of albums and genres */
	int n_tags, cap_tags;
	float *duration;	/* n, seconds */
	float *x;		/* n × dim, row-major */
	bool *banned;		/* n: banned with a BAN event */
	/* the store's own: room for `cap` tracks, the strings' blocks */
	int cap;
	struct store_strings *strings;
	/* a library read from library.cache: the file mapped (map_size
	 * bytes), which holds its strings, and while map_arrays its album,
	 * genre, duration, x and banned arrays too (from byte map_x on, the
	 * matrix); NULL otherwise */
	unsigned char *map;
	size_t map_size, map_x;
	bool map_arrays;
};
struct store_library *store_load_library(struct store *s, int version, int dim);

/** Frees a library of the store's; one the caller built (strings NULL)
 *  has its uri, artist and title strings freed one by one. Accepts
 *  NULL. */
void store_library_free(struct store_library *lib);

/** What store_load_library_with() loads. */
enum store_library_flags {
	STORE_LIBRARY_SORTED = 1,	/* sorted by URI (else in the store's
					 * own order, which reads 5x faster) */
	STORE_LIBRARY_TITLES = 2,	/* titles (else lib->title is NULL) */
	/* album and genre (else NULL): the queue filler's groups and
	 * rules without a second pass over the table */
	STORE_LIBRARY_TAGS = 4,
	/* through library.cache beside the store (never sorted): read from
	 * it when it holds the store's library as it is now, else from SQLite
	 * (see store_keep_library) */
	STORE_LIBRARY_CACHE = 8,
};

/** Sets the size of library from which store_keep_library() keeps
 *  library.cache (default 50,000 tracks; 0: any). Returns nothing. */
void store_set_cache_min(struct store *s, int tracks);

/** Whether the last store_load_library_with() with STORE_LIBRARY_CACHE
 *  read library.cache (true) or SQLite. *gen (may be NULL) gets the
 *  library generation the load saw (for store_keep_library), `why` (may
 *  be NULL) why the cache was not used (empty: there was none). */
bool store_library_cached(const struct store *s, uint64_t *gen, char *why,
			  size_t size);

/** Keeps lib (borrowed), read from SQLite in full at generation `gen` and
 *  never changed since but by the store's own changes, as library.cache,
 *  when the store's library is still at that generation and holds at
 *  least store_set_cache_min() tracks (a smaller one's file is removed),
 *  and the disk has room for it twice over. It costs about a second for a
 *  million tracks: the daemon keeps it at exit, a command after its load.
 *  Returns 1 when it wrote the file, 0 when there was nothing to do (the
 *  library changed since, or is small), -1 with store_error() when the
 *  file could not be written. */
int store_keep_library(struct store *s, const struct store_library *lib,
			int version, uint64_t gen);

/** As store_load_library(), with `flags` (enum store_library_flags) saying
 *  whether to sort, whether to load titles, and whether to load albums and
 *  genres (as numbers: a name is kept once for a run of tracks that share
 *  it). The daemon neither sorts nor loads titles, so a library of a
 *  million tracks reads in about a second and keeps little beside its
 *  feature matrix. */
struct store_library *store_load_library_with(struct store *s, int version,
					      int dim, unsigned flags);

/** How store_library_update() found a track. */
enum store_row {
	STORE_ROW_ERROR = -1,	/* a database error or out of memory */
	STORE_ROW_ABSENT,	/* not in lib and not analysed: nothing done */
	STORE_ROW_ADDED,	/* analysed: appended as row lib->n - 1 */
	STORE_ROW_REFRESHED,	/* row i: vector, duration, artist, title,
				 * album, genre and ban read again */
	STORE_ROW_STALE,	/* row i is no longer analysed with `version`
				 * (failed, gone, changed): the caller drops
				 * it with store_library_remove() */
};

/** Brings one track of lib up to date with the store: `i` is its row in
 *  lib, or -1 when it is not there (then it is appended if it is ANALYSED
 *  with `version` and lib->dim features). Appending grows lib's arrays (so
 *  pointers into them are stale afterwards); a row's strings are copied
 *  into lib. Returns what it did; STORE_ROW_ERROR with store_error(). */
enum store_row store_library_update(struct store *s, struct store_library *lib,
				    int version, const char *uri, int i);

/** Removes row i of lib by moving the last row into its place (the
 *  strings stay in lib's blocks until it is freed). */
void store_library_remove(struct store_library *lib, int i);

/** Calls fn(uri, ctx) for every track whose row was written at or after
 *  `since` (epoch seconds, as the writer's clock saw it): analysed, failed,
 *  gone, back, banned by an event (group bans and unbans do not touch the
 *  rows: see store_each_banned). One pass over the table; uri borrowed
 *  for the call. Returns false on a database error. */
bool store_each_changed_track(struct store *s, double since,
			      bool (*fn)(const char *uri, void *ctx),
			      void *ctx);

/** Calls fn(uri, ctx) for every analysed track that is banned (by a BAN
 *  event, or its artist's or album's ban); uri borrowed for the call. One
 *  pass over the table. Returns false on a database error. */
bool store_each_banned(struct store *s,
		       bool (*fn)(const char *uri, void *ctx), void *ctx);

/** A library sync in rounds, for a library of any size: MPD's songs are
 *  written a chunk at a time, each chunk one short transaction (a song
 *  whose row already says the same is only read), and the tracks no chunk
 *  named are marked GONE at the end. Memory: one bit per track. Unlike
 *  store_sync_begin(), other writers (the daemon's events) never wait for
 *  more than one chunk; a sync cut short leaves every chunk written and
 *  marks nothing GONE. */
struct store_listing;

/** A new listing; NULL when out of memory. Free with
 *  store_listing_free(). */
struct store_listing *store_listing_new(void);

/** Writes tracks t[0..n) (as store_sync_track() would) in one
 *  transaction. Returns false on error (then none of them was written). */
bool store_listing_add(struct store *s, struct store_listing *l,
		       const struct store_track_info *t, int n);

/** Marks GONE every track not named since store_listing_new() (that is
 *  not GONE already); `gone` (may be NULL) receives how many, `written`
 *  (may be NULL) how many rows the chunks inserted or changed. Returns
 *  false on error. */
bool store_listing_end(struct store *s, struct store_listing *l, int *gone,
		       int *written);

/** Frees. Accepts NULL. */
void store_listing_free(struct store_listing *l);

/** Calls fn(t, ctx) for every track to analyse (as store_each_pending()),
 *  in the store's order, with its uri, artist, album and duration (other
 *  fields 0/NULL); t and its strings are borrowed for the call. Stops early
 *  when fn returns false. Returns false on a database error. */
bool store_each_pending_track(struct store *s, int version,
			      bool (*fn)(const struct store_track_info *t,
					 void *ctx),
			      void *ctx);

/** Calls fn(uri, ctx) for up to n tracks in MPD's database (not GONE, not
 *  banned), any analysis status, starting at a place drawn from `seed`:
 *  what can be queued before anything is analysed. Returns false on a
 *  database error. */
bool store_sample_tracks(struct store *s, int n, uint64_t seed,
			 bool (*fn)(const char *uri, void *ctx), void *ctx);

/** Looks one track up: its status, its error text (caller frees, may be NULL)
 *  and, if ANALYSED with `version`, its vector into v (dim floats). Returns
 *  false if the track is unknown or on error (then store_error says which).
 *  *status is STORE_ANALYSED only when v was filled: a vector of another
 *  version or dim reports STORE_PENDING (it is to be analysed again). v,
 *  status and error may each be NULL. */
bool store_get_track(struct store *s, const char *uri, int version, int dim,
		     float *v, enum store_status *status, char **error);

/* --- events ------------------------------------------------------------ */

/** Appends one event, durably (committed before returning true). Sets e->id.
 *  A BAN also marks the track banned (a track not yet synced is recorded as
 *  GONE, mtime 0, so a later sync makes it PENDING); an explicit LIKE lifts a
 *  ban. Returns false on error; then nothing of it was stored. */
bool store_add_event(struct store *s, struct store_event *e);

/** Labelled events (label 0 or 1) joined with the features of their track
 *  (ANALYSED with `version`, `dim` floats), oldest first: the training set.
 *  Caller frees with store_examples_free(). NULL on error. */
struct store_examples {
	int n;
	int dim;
	float *x;		/* n × dim */
	float *y;		/* n labels 0/1 */
	float *w;		/* n weights */
	double *time;		/* n event times */
	char **uri;		/* n */
};
struct store_examples *store_load_examples(struct store *s, int version,
					   int dim);
void store_examples_free(struct store_examples *ex);

/** Number of events, and of labelled ones. */
bool store_count_events(struct store *s, int64_t *all, int64_t *labelled);

/** Calls fn for the last `limit` events, newest first (fields borrowed for the
 *  call). Returns false on error. */
bool store_each_recent_event(struct store *s, int limit,
			     bool (*fn)(const struct store_event *e, void *ctx),
			     void *ctx);

/** Whether an event of e's time, URI and kind is stored (*has): an event
 *  kept in the reserve by a daemon that stopped before it emptied the
 *  reserve may be stored already. Returns false on error. */
bool store_has_event(struct store *s, const struct store_event *e, bool *has);

/** Whether uri is banned. */
bool store_is_banned(struct store *s, const char *uri, bool *banned);

/** URIs played (any event) since `since` (epoch seconds): fn per URI. */
bool store_each_played_since(struct store *s, double since,
			     bool (*fn)(const char *uri, void *ctx), void *ctx);

/* --- picks ------------------------------------------------------------- */

/** Appends one pick; `id` (may be NULL) receives its row id. */
bool store_add_pick(struct store *s, const struct store_pick *p, int64_t *id);

/** Sets the outcome of the latest open pick of uri: 1 liked, 0 disliked, -1
 *  heard without label. A no-op if there is none. */
bool store_set_pick_outcome(struct store *s, const char *uri, int outcome);

/** Like rate of the last `last` picks with an outcome, all or only the
 *  explored ones: *liked and *judged counts. Judged means outcome 0 or 1
 *  (heard without a label, -1, does not count); last <= 0 means all. */
bool store_pick_stats(struct store *s, int last, bool explored_only,
		      int *liked, int *judged);

/* --- tags for the queue filler ---------------------------------------- */

/** Calls fn with the URI and the tags (NULL when untagged) of every track
 *  store_load_library(s, version, dim) returns, in the table's order (that
 *  of store_load_library_with() unsorted: no sort of a million rows, which
 *  took 100 MB of temporary B-tree); strings borrowed for the call.
 *  Streams: fn must not use the store. Stops early when fn returns false.
 *  Returns false on a database error. */
bool store_each_track_tags(struct store *s, int version, int dim,
			   bool (*fn)(const char *uri, const char *artist,
				      const char *album, const char *genre,
				      void *ctx),
			   void *ctx);

/* --- model ------------------------------------------------------------- */

/** Saves the model blob (with its own checksum) atomically, replacing the
 *  previous one in the same transaction. Returns false on error. */
bool store_save_model(struct store *s, const void *blob, size_t size);

/** The checksum of the latest model blob (0 when none is saved): a cheap
 *  way to see whether another process saved a model. Returns false on
 *  error. */
bool store_model_stamp(struct store *s, uint64_t *stamp);

/** The checksum store_save_model() stores for a blob (FNV-1a 64). */
uint64_t store_model_checksum(const void *blob, size_t size);

/** Loads the latest model blob: *blob (caller frees with free()) and *size;
 *  *blob NULL when none was saved. Returns false on error: a database
 *  error, or a blob that fails its size or checksum ("the model is
 *  corrupt"; store_model_corrupt() tells which). */
bool store_load_model(struct store *s, void **blob, size_t *size);

/** Whether the last store_load_model() that failed did so because the saved
 *  blob is corrupt (then store_reject_model() sets it aside and a new model
 *  can be built from the events) rather than for a database error. */
bool store_model_corrupt(const struct store *s);

/** Rejected models kept for inspection; older ones are dropped. */
#define STORE_REJECTED_KEPT 3

/** Sets the saved model aside, in one transaction: it moves to the
 *  models_rejected table (kept for inspection, with `why` and the time;
 *  the last STORE_REJECTED_KEPT stay) and the model table is left empty.
 *  For a blob store_load_model() or model_load() refused. Returns false on
 *  error (nothing moved). */
bool store_reject_model(struct store *s, const char *why);

/** Records a full-training report (time, events, metrics) for the learning
 *  curve; metrics NaN when unknown. */
bool store_add_training(struct store *s, double time, int events,
			double train_acc, double val_acc, double val_auc,
			double val_logloss);

/** One full-training report, as stored; metrics NaN when unknown. */
struct store_training {
	double time;
	int events;
	double train_acc, val_acc, val_auc, val_logloss;
};

/** Calls fn for every training report, oldest first (the learning curve).
 *  Stops early when fn returns false. Returns false on a database error. */
bool store_each_training(struct store *s,
			 bool (*fn)(const struct store_training *t, void *ctx),
			 void *ctx);

/* --- for the commands: failures, tags, history, picks, bans ------------ */

/** Calls fn(uri, error) for the FAILED tracks, by URI, at most `limit`
 *  (<= 0: all); strings borrowed for the call. Stops early when fn returns
 *  false. Returns false on a database error. */
bool store_each_failed(struct store *s, int limit,
		       bool (*fn)(const char *uri, const char *error,
				  void *ctx),
		       void *ctx);

/** Calls fn once with the tags MPD gave for uri (strings NULL when
 *  untagged; all borrowed for the call). Returns false when the track is
 *  unknown or on error (store_error says which). */
bool store_get_tags(struct store *s, const char *uri,
		    bool (*fn)(const struct store_track_info *t, void *ctx),
		    void *ctx);

/** One labelled event with its track's tags (NULL when untagged or the
 *  track is unknown); strings borrowed for the call. */
struct store_labelled {
	double time;
	const char *uri;
	enum store_kind kind;	/* how it came: played, liked, ... */
	int label;		/* 1 like, 0 dislike */
	const char *artist, *album, *title;
};

/** Calls fn for every labelled event, oldest first, analysed or not.
 *  Stops early when fn returns false. Returns false on a database error. */
bool store_each_labelled(struct store *s,
			 bool (*fn)(const struct store_labelled *e, void *ctx),
			 void *ctx);

/** The outcome of a pick that nobody has heard yet. */
#define STORE_PICK_OPEN (-2)

/** Calls fn for every pick, oldest first, with its outcome: 1 liked, 0
 *  disliked, -1 heard without a label, STORE_PICK_OPEN not yet heard.
 *  Fields borrowed for the call. Returns false on a database error. */
bool store_each_pick(struct store *s,
		     bool (*fn)(const struct store_pick *p, int outcome,
				void *ctx),
		     void *ctx);

/** What a group ban names. */
enum store_group { STORE_GROUP_ARTIST = 0, STORE_GROUP_ALBUM = 1 };

/** Bans (ban true) or lifts the ban of (ban false) every track whose artist
 *  (or album) tag is exactly `name`, now and later: store_load_library()
 *  marks them banned. *changed (may be NULL) receives 1 when it changed
 *  something, 0 when it was so already. Returns false on error. */
bool store_ban_group(struct store *s, enum store_group g, const char *name,
		     bool ban, int *changed);

/** Calls fn for every group ban (name borrowed for the call). Returns
 *  false on a database error. */
bool store_each_ban(struct store *s,
		    bool (*fn)(enum store_group g, const char *name,
			       void *ctx),
		    void *ctx);

/** *tracks receives how many known tracks (not gone) have artist (or
 *  album) `name`. Returns false on error. */
bool store_count_group(struct store *s, enum store_group g, const char *name,
		       int *tracks);

/** Lifts the ban of uri and withdraws the dislike its BAN events carried
 *  (their label becomes none). *changed (may be NULL): 1 when it was
 *  banned. Returns false on error; then nothing changed. */
bool store_unban(struct store *s, const char *uri, int *changed);

/** Withdraws every like of uri (played to the end or explicit: the events
 *  stay, without a label), so the next training forgets them. *changed
 *  (may be NULL) receives how many. Returns false on error. */
bool store_unlike(struct store *s, const char *uri, int *changed);

/* --- the reserve -------------------------------------------------------- */

/** Sets `bytes` of disk aside beside the database (mpdrec.reserve, written
 *  with zeros so its blocks are allocated; at least 4 kB), for events that
 *  cannot be committed because the disk is full. A reserve that exists
 *  keeps what it holds. For the daemon (one per data directory). Returns
 *  false with the reason in store_error() (no room even for that). */
bool store_reserve(struct store *s, size_t bytes);

/** Replaces what the reserve holds with the n events e (n may be 0: an
 *  empty reserve) and flushes it to disk; a full disk does not refuse it.
 *  *kept (may be NULL) receives how many fit (the first ones). Returns
 *  false on an I/O error or when store_reserve() was not called; a crash
 *  during the write leaves the previous contents. */
bool store_reserve_write(struct store *s, const struct store_event *e, int n,
			 int *kept);

/** The events the reserve holds, oldest first: *e (strings owned; the
 *  caller frees with store_reserve_free()) and *n (0: none). Returns false
 *  when out of memory or when store_reserve() was not called. */
bool store_reserve_read(struct store *s, struct store_event **e, int *n);

/** Frees what store_reserve_read() returned. Accepts NULL. */
void store_reserve_free(struct store_event *e, int n);

#endif
