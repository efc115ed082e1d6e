/* The SQLite store. See store.h for the contract; here, why it holds.
 *
 * Durability: WAL with synchronous=FULL, so each commit fsyncs the WAL. WAL
 * with synchronous=NORMAL would already survive SIGKILL (a commit is in the
 * kernel's page cache once write() returned), but not a power cut; events
 * come at one a song and a library sync is one transaction, so the fsync per
 * commit costs nothing that matters and buys "committed means on disk".
 *
 * Concurrency: every write transaction is BEGIN IMMEDIATE. A deferred one that
 * reads first and then writes can fail with SQLITE_BUSY at once, without the
 * busy handler, when another connection committed in between; IMMEDIATE takes
 * the write lock up front and waits (busy_timeout) for it instead.
 *
 * No foreign keys: events and picks are history and outlive their tracks
 * (a track can be GONE, or not synced yet when an event arrives).
 */
#include "core/store.h"
#include "core/libcache.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define STORE_FILE "mpdrec.db"
#define CACHE_FILE "library.cache"
/* Below this many tracks SQLite reads the library in a tenth of a second
 * or less: no cache file. */
#define CACHE_MIN 50000
#define BUSY_TIMEOUT_MS 10000

/* --- schema ------------------------------------------------------------- */

/* Forward migrations: step i brings user_version i to i + 1. Append only;
 * never edit a step that was released. All pending steps and the new
 * user_version are applied in one transaction. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE tracks ("
	" uri TEXT PRIMARY KEY NOT NULL,"
	" mtime INTEGER NOT NULL DEFAULT 0,"
	" artist TEXT, album TEXT, title TEXT, genre TEXT,"
	" duration REAL NOT NULL DEFAULT 0,"
	" status INTEGER NOT NULL DEFAULT 0,"	/* enum store_status */
	" error TEXT,"				/* why analysis failed */
	" features BLOB,"			/* little-endian float32 */
	" features_version INTEGER,"
	" features_dim INTEGER,"
	" banned INTEGER NOT NULL DEFAULT 0,"
	" updated REAL NOT NULL DEFAULT 0);"
	"CREATE INDEX tracks_status ON tracks(status);"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" time REAL NOT NULL,"
	" uri TEXT NOT NULL,"
	" kind INTEGER NOT NULL,"		/* enum store_kind */
	" played REAL NOT NULL DEFAULT 0,"
	" duration REAL NOT NULL DEFAULT 0,"
	" label INTEGER NOT NULL DEFAULT -1,"	/* 1, 0, -1 none */
	" weight REAL NOT NULL DEFAULT 1,"
	" source TEXT,"
	" queued INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX events_time ON events(time);"
	"CREATE INDEX events_uri ON events(uri);"
	"CREATE TABLE picks ("
	" id INTEGER PRIMARY KEY,"
	" time REAL NOT NULL,"
	" uri TEXT NOT NULL,"
	" score REAL, uncertainty REAL,"
	" explored INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT,"
	" outcome INTEGER);"			/* NULL open, 1, 0, -1 */
	"CREATE INDEX picks_uri ON picks(uri);"
	"CREATE TABLE model ("
	" id INTEGER PRIMARY KEY,"
	" time REAL NOT NULL,"
	" blob BLOB NOT NULL,"
	" size INTEGER NOT NULL,"
	" checksum INTEGER NOT NULL);"		/* FNV-1a 64 of blob */
	"CREATE TABLE training ("
	" id INTEGER PRIMARY KEY,"
	" time REAL NOT NULL,"
	" events INTEGER NOT NULL,"
	" train_acc REAL, val_acc REAL, val_auc REAL, val_logloss REAL);",
	/* 1 -> 2: bans of a whole artist or album (enum store_group). */
	"CREATE TABLE bans ("
	" kind INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" time REAL NOT NULL,"
	" PRIMARY KEY(kind, name));",
	/* 2 -> 3: a saved model that failed its checksum is set aside here
	 * for inspection, not overwritten */
	"CREATE TABLE models_rejected ("
	" id INTEGER PRIMARY KEY,"
	" time REAL,"				/* when it was saved */
	" rejected REAL NOT NULL,"		/* when it was set aside */
	" blob BLOB, size INTEGER, checksum INTEGER,"
	" reason TEXT NOT NULL);",
	/* 3 -> 4: the library's generation, one up at every change of what
	 * a library load reads (a track's row as the library holds it, a
	 * ban): library.cache holds the generation it copied. A scan's
	 * upsert of an unchanged row changes nothing and counts nothing. */
	"CREATE TABLE library_gen (gen INTEGER NOT NULL);"
	"INSERT INTO library_gen VALUES(0);"
	/* A new track is pending (not in the library) until its analysis
	 * updates it: a first scan of a million counts nothing. */
	"CREATE TRIGGER tracks_gen_insert AFTER INSERT ON tracks"
	" WHEN NEW.status = 1"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER tracks_gen_delete AFTER DELETE ON tracks"
	" WHEN OLD.status = 1"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER tracks_gen_update AFTER UPDATE ON tracks WHEN"
	" (OLD.status = 1 OR NEW.status = 1) AND ("
	" OLD.uri IS NOT NEW.uri OR OLD.status IS NOT NEW.status"
	" OR OLD.features_version IS NOT NEW.features_version"
	" OR OLD.features_dim IS NOT NEW.features_dim"
	" OR OLD.banned IS NOT NEW.banned OR OLD.artist IS NOT NEW.artist"
	" OR OLD.album IS NOT NEW.album OR OLD.title IS NOT NEW.title"
	" OR OLD.genre IS NOT NEW.genre OR OLD.duration IS NOT NEW.duration"
	" OR OLD.features IS NOT NEW.features)"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER bans_gen_insert AFTER INSERT ON bans"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER bans_gen_delete AFTER DELETE ON bans"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;"
	"CREATE TRIGGER bans_gen_update AFTER UPDATE ON bans"
	" BEGIN UPDATE library_gen SET gen = gen + 1; END;",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* --- statements, prepared once per store on first use ------------------- */

enum st {
	ST_SYNC_TRACK,
	ST_SYNC_SEEN,
	ST_SYNC_GONE,
	ST_SYNC_CLEAR,
	ST_PENDING,
	ST_SET_FEATURES,
	ST_SET_FAILED,
	ST_COUNT_TRACKS,
	ST_LIBRARY,
	ST_GET_TRACK,
	ST_ADD_EVENT,
	ST_BAN,
	ST_UNBAN,
	ST_EXAMPLES,
	ST_COUNT_EVENTS,
	ST_RECENT,
	ST_IS_BANNED,
	ST_PLAYED_SINCE,
	ST_ADD_PICK,
	ST_PICK_OUTCOME,
	ST_PICK_STATS,
	ST_MODEL_DELETE,
	ST_MODEL_INSERT,
	ST_MODEL_LOAD,
	ST_ADD_TRAINING,
	ST_TRAINING,
	ST_MODEL_REJECT,
	ST_REJECTED_TRIM,
	ST_HAS_EVENT,
	ST_TRACK_TAGS,
	ST_LIBRARY_ROW,
	ST_CHANGED,
	ST_SYNC_LOOKUP,
	ST_SYNC_LIVE,
	ST_SYNC_MARK_GONE,
	ST_PENDING_INFO,
	ST_MAX_ROWID,
	ST_SAMPLE,
	ST_MODEL_STAMP,
	ST_COUNT_ANALYSED,
	ST_BANNED,
	ST_N
};

/* Whether a track is banned: by a BAN event, or its artist's or album's
 * (a group ban, now and later). */
#define BANNED \
	"(banned OR EXISTS(SELECT 1 FROM bans b WHERE (b.kind = 0 AND" \
	" b.name = tracks.artist) OR (b.kind = 1 AND b.name = tracks.album)))"

static const char *const st_sql[ST_N] = {
	/* A changed mtime re-pends and drops the stale vector and error; a GONE
	 * track that is back with the same mtime gets the status its vector or
	 * error says. In DO UPDATE every right-hand side sees the old row. */
	[ST_SYNC_TRACK] =
	"INSERT INTO tracks(uri, mtime, artist, album, title, genre, duration,"
	" status, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)"
	" ON CONFLICT(uri) DO UPDATE SET"
	" artist = excluded.artist, album = excluded.album,"
	" title = excluded.title, genre = excluded.genre,"
	" duration = CASE WHEN excluded.duration > 0 THEN excluded.duration"
	"  ELSE tracks.duration END,"
	" status = CASE WHEN tracks.mtime != excluded.mtime THEN 0"
	"  WHEN tracks.status = 3 THEN"
	"   (CASE WHEN tracks.features IS NOT NULL THEN 1"
	"    WHEN tracks.error IS NOT NULL THEN 2 ELSE 0 END)"
	"  ELSE tracks.status END,"
	" features = CASE WHEN tracks.mtime != excluded.mtime THEN NULL"
	"  ELSE tracks.features END,"
	" features_version = CASE WHEN tracks.mtime != excluded.mtime THEN NULL"
	"  ELSE tracks.features_version END,"
	" features_dim = CASE WHEN tracks.mtime != excluded.mtime THEN NULL"
	"  ELSE tracks.features_dim END,"
	" error = CASE WHEN tracks.mtime != excluded.mtime THEN NULL"
	"  ELSE tracks.error END,"
	" mtime = excluded.mtime, updated = excluded.updated",
	[ST_SYNC_SEEN] = "INSERT OR IGNORE INTO temp.sync_seen(uri) VALUES(?1)",
	[ST_SYNC_GONE] =
	"UPDATE tracks SET status = 3, updated = ?1 WHERE status != 3"
	" AND uri NOT IN (SELECT uri FROM temp.sync_seen)",
	[ST_SYNC_CLEAR] = "DELETE FROM temp.sync_seen",
	[ST_PENDING] =
	"SELECT uri FROM tracks WHERE status = 0"
	" OR (status = 1 AND features_version IS NOT ?1) ORDER BY uri",
	/* A track that went GONE while it was analysed stays GONE (with its
	 * vector, which a return with the same mtime brings back). */
	[ST_SET_FEATURES] =
	"UPDATE tracks SET status = CASE WHEN status = 3 THEN 3 ELSE 1 END,"
	" features = ?2, features_version = ?3, features_dim = ?4,"
	" duration = CASE WHEN ?5 > 0 THEN ?5 ELSE duration END,"
	" error = NULL, updated = ?6 WHERE uri = ?1",
	[ST_SET_FAILED] =
	"UPDATE tracks SET status = CASE WHEN status = 3 THEN 3 ELSE 2 END,"
	" error = ?2, features = NULL, features_version = NULL,"
	" features_dim = NULL, updated = ?3 WHERE uri = ?1",
	[ST_COUNT_TRACKS] =
	"SELECT status, count(*) FROM tracks GROUP BY status",
	[ST_LIBRARY] =
	"SELECT uri, artist, title, duration, features, " BANNED " FROM tracks"
	" WHERE status = 1 AND features_version = ?1 AND features_dim = ?2"
	" AND length(features) = ?2 * 4",
	[ST_GET_TRACK] =
	"SELECT status, error, features_version, features_dim, features"
	" FROM tracks WHERE uri = ?1",
	[ST_ADD_EVENT] =
	"INSERT INTO events(time, uri, kind, played, duration, label, weight,"
	" source, queued) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_BAN] =
	"INSERT INTO tracks(uri, mtime, status, banned, updated)"
	" VALUES(?1, 0, 3, 1, ?2)"
	" ON CONFLICT(uri) DO UPDATE SET banned = 1,"
	" updated = excluded.updated",
	[ST_UNBAN] =
	"UPDATE tracks SET banned = 0, updated = ?2 WHERE uri = ?1 AND banned",
	[ST_EXAMPLES] =
	/* CROSS JOIN: events first, each track by its key; SQLite's own
	 * choice walked a million tracks by status (0.5 s for 300 events) */
	"SELECT e.time, e.uri, e.label, e.weight, t.features"
	" FROM events e CROSS JOIN tracks t ON t.uri = e.uri"
	" WHERE e.label IN (0, 1) AND t.status = 1"
	" AND t.features_version = ?1 AND t.features_dim = ?2"
	" AND length(t.features) = ?2 * 4 ORDER BY e.time, e.id",
	[ST_COUNT_EVENTS] =
	"SELECT count(*), coalesce(sum(label IN (0, 1)), 0) FROM events",
	[ST_RECENT] =
	"SELECT id, time, uri, kind, played, duration, label, weight, source,"
	" queued FROM events ORDER BY time DESC, id DESC LIMIT ?1",
	[ST_IS_BANNED] = "SELECT banned FROM tracks WHERE uri = ?1",
	[ST_PLAYED_SINCE] =
	"SELECT DISTINCT uri FROM events WHERE time >= ?1",
	[ST_ADD_PICK] =
	"INSERT INTO picks(time, uri, score, uncertainty, explored, reason)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_PICK_OUTCOME] =
	"UPDATE picks SET outcome = ?2 WHERE id = (SELECT max(id) FROM picks"
	" WHERE uri = ?1 AND outcome IS NULL)",
	[ST_PICK_STATS] =
	"SELECT count(*), coalesce(sum(outcome = 1), 0) FROM (SELECT outcome"
	" FROM picks WHERE outcome IN (0, 1) AND (?1 = 0 OR explored)"
	" ORDER BY id DESC LIMIT ?2)",
	[ST_MODEL_DELETE] = "DELETE FROM model",
	[ST_MODEL_INSERT] =
	"INSERT INTO model(time, blob, size, checksum) VALUES(?1, ?2, ?3, ?4)",
	[ST_MODEL_LOAD] =
	"SELECT blob, size, checksum FROM model ORDER BY id DESC LIMIT 1",
	[ST_ADD_TRAINING] =
	"INSERT INTO training(time, events, train_acc, val_acc, val_auc,"
	" val_logloss) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_TRAINING] =
	"SELECT time, events, train_acc, val_acc, val_auc, val_logloss"
	" FROM training ORDER BY time, id",
	[ST_MODEL_REJECT] =
	"INSERT INTO models_rejected(time, rejected, blob, size, checksum,"
	" reason) SELECT time, ?1, blob, size, checksum, ?2 FROM model",
	[ST_REJECTED_TRIM] =
	"DELETE FROM models_rejected WHERE id NOT IN (SELECT id FROM"
	" models_rejected ORDER BY id DESC LIMIT ?1)",
	[ST_HAS_EVENT] =
	"SELECT 1 FROM events WHERE time = ?1 AND uri = ?2 AND kind = ?3"
	" LIMIT 1",
	/* The rows and order of ST_LIBRARY. */
	[ST_TRACK_TAGS] =
	"SELECT uri, artist, album, genre FROM tracks"
	" WHERE status = 1 AND features_version = ?1 AND features_dim = ?2"
	" AND length(features) = ?2 * 4",
	[ST_LIBRARY_ROW] =
	"SELECT status, features_version, features_dim, features, artist,"
	" title, duration, " BANNED ", album, genre FROM tracks WHERE uri = ?1",
	[ST_BANNED] =
	"SELECT uri FROM tracks WHERE status = 1 AND " BANNED,
	[ST_CHANGED] = "SELECT uri FROM tracks WHERE updated >= ?1",
	[ST_SYNC_LOOKUP] =
	"SELECT rowid, mtime, status, artist, album, title, genre, duration"
	" FROM tracks WHERE uri = ?1",
	[ST_SYNC_LIVE] = "SELECT rowid FROM tracks WHERE status != 3",
	[ST_SYNC_MARK_GONE] =
	"UPDATE tracks SET status = 3, updated = ?2 WHERE rowid = ?1"
	" AND status != 3",
	[ST_PENDING_INFO] =
	"SELECT uri, artist, album, duration FROM tracks WHERE status = 0"
	" OR (status = 1 AND features_version IS NOT ?1)",
	[ST_MAX_ROWID] = "SELECT coalesce(max(rowid), 0) FROM tracks",
	[ST_SAMPLE] =
	"SELECT uri FROM tracks WHERE rowid >= ?1 AND rowid < ?2"
	" AND status != 3 AND banned = 0 LIMIT ?3",
	[ST_MODEL_STAMP] =
	"SELECT checksum FROM model ORDER BY id DESC LIMIT 1",
	/* from the status index alone: a bound on a library's size */
	[ST_COUNT_ANALYSED] = "SELECT count(*) FROM tracks WHERE status = 1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	bool model_corrupt;	/* the last store_load_model: a bad blob */
	int reserve_fd;		/* store_reserve(): the file, -1 none */
	uint64_t reserve_seq;	/* sequence of the newest reserve slot */
	size_t reserve_size;
	bool in_sync;
	bool in_batch;		/* store_batch_begin: one transaction */
	unsigned char *buf;	/* scratch for feature blobs */
	size_t buf_size;
	int cache_min;		/* store_set_cache_min() */
	bool cache_used;	/* the last cached load read library.cache */
	uint64_t cache_gen;	/* the generation it saw */
	char cache_note[4600];	/* else why not, or why it was not kept */
	char cache_path[4200];
	char path[4096];
	char error[1024];
};

/* --- helpers ------------------------------------------------------------ */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

__attribute__((format(printf, 2, 3)))
static bool fail(struct store *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	return false;
}

/* "what: SQLite's message". Call before anything else touches the db. */
static bool fail_db(struct store *s, const char *what)
{
	return fail(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *stmt(struct store *s, enum st id, const char *what)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, st_sql[id], -1,
					     SQLITE_PREPARE_PERSISTENT,
					     &s->st[id], NULL) != SQLITE_OK) {
		fail_db(s, what);
		return NULL;
	}
	return s->st[id];
}

/* Steps a statement that returns no rows, then resets it. */
static bool run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fail_db(s, what);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	return true;
}

static bool exec(struct store *s, const char *sql, const char *what)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail_db(s, what);
	return true;
}

static bool begin(struct store *s, const char *what)
{
	if (s->in_batch)
		return true;
	if (s->in_sync)
		return fail(s, "%s: a library sync is in progress on this "
			    "store", what);
	return exec(s, "BEGIN IMMEDIATE", what);
}

/* Rolls back if a transaction is open (SQLite may already have done so after
 * SQLITE_FULL or an I/O error); keeps the error that led here. */
static void rollback(struct store *s)
{
	s->in_batch = false;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static bool commit(struct store *s, const char *what)
{
	if (s->in_batch)
		return true;
	if (exec(s, "COMMIT", what))
		return true;
	rollback(s);
	return false;
}

static char *dup_column(sqlite3_stmt *st, int col, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	if (!t)
		return NULL;
	char *d = strdup((const char *)t);
	if (!d)
		*oom = true;
	return d;
}

static double column_double_or_nan(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NAN;
	return sqlite3_column_double(st, col);
}

/* Feature vectors are little-endian float32 whatever the host. */
static void floats_to_le(unsigned char *out, const float *v, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], 4);
		out[4 * i] = (unsigned char)u;
		out[4 * i + 1] = (unsigned char)(u >> 8);
		out[4 * i + 2] = (unsigned char)(u >> 16);
		out[4 * i + 3] = (unsigned char)(u >> 24);
	}
}

static void floats_from_le(float *v, const unsigned char *in, int n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* The host's own order: one copy (the loop below was a third of
	 * loading a large library). */
	memcpy(v, in, (size_t)n * 4);
	return;
#endif
	for (int i = 0; i < n; i++) {
		uint32_t u = (uint32_t)in[4 * i] |
			     (uint32_t)in[4 * i + 1] << 8 |
			     (uint32_t)in[4 * i + 2] << 16 |
			     (uint32_t)in[4 * i + 3] << 24;
		memcpy(&v[i], &u, 4);
	}
}

static uint64_t fnv1a64(const void *data, size_t size)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < size; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A growing array of strings, for callbacks that run after the query is
 * done (so fn may call the store, even write to the table being read). */
struct strv {
	char **v;
	size_t n, cap;
};

static bool strv_push(struct strv *a, const char *t)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;
		char **v = realloc(a->v, cap * sizeof *v);
		if (!v)
			return false;
		a->v = v;
		a->cap = cap;
	}
	char *d = strdup(t ? t : "");
	if (!d)
		return false;
	a->v[a->n++] = d;
	return true;
}

static void strv_free(struct strv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* Collects the first text column of every row of st, then resets it. */
static bool collect(struct store *s, sqlite3_stmt *st, struct strv *out,
		    const char *what)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!strv_push(out, (const char *)sqlite3_column_text(st, 0))) {
			sqlite3_reset(st);
			return fail(s, "%s: out of memory", what);
		}
	}
	if (rc != SQLITE_DONE) {
		fail_db(s, what);
		sqlite3_reset(st);
		return false;
	}
	sqlite3_reset(st);
	return true;
}

/* --- open, close -------------------------------------------------------- */

/* mkdir -p, every directory it creates 0700. */
static bool make_dirs(const char *dir, char *err, size_t err_size)
{
	char p[4096];
	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
		snprintf(err, err_size, "%s: path too long", dir);
		return false;
	}
	for (char *c = p + 1; ; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char save = *c;
		*c = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			snprintf(err, err_size,
				 "cannot create directory %s: %s", p,
				 strerror(errno));
			return false;
		}
		*c = save;
		if (save == '\0')
			break;
	}
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(err, err_size, "%s: %s", dir, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_size, "%s: not a directory", dir);
		return false;
	}
	/* The data directory holds the listening history: keep it private
	 * even if it existed before. Best effort: one we do not own stays. */
	if ((st.st_mode & 077) && st.st_uid == geteuid())
		chmod(dir, 0700);
	return true;
}

/* The database and its -wal/-shm files are 0600. The file is created here
 * with mode 0600 before SQLite opens it (rather than changing the
 * process-wide umask, which other threads would feel); SQLite creates -wal
 * and -shm with the database file's mode. chmod() covers files that existed
 * before.
 *
 * mknod(), not open(): closing any descriptor of the database file drops
 * every POSIX lock this process holds on it, including those of another
 * connection open in this process (the daemon's other thread). Without its
 * shared lock, the next process to close the store thinks it is the last one
 * and deletes the WAL, committed events and all ("How To Corrupt An SQLite
 * Database File", 2.2). Found by a teammate; test_other_process_keeps_our_wal
 * shows the loss. */
static bool make_private(const char *path, char *err, size_t err_size)
{
	if (mknod(path, S_IFREG | 0600, 0) == 0) {
		chmod(path, 0600);	/* whatever the umask took away */
	} else if (errno != EEXIST) {
		snprintf(err, err_size, "cannot create %s: %s%s", path,
			 strerror(errno),
			 errno == EACCES || errno == EROFS ?
			 " (is the data directory writable?)" : "");
		return false;
	}
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		struct stat st;
		/* Only ever take bits away: a file made read-only stays so. */
		if (stat(p, &st) != 0 || (st.st_mode & 077) == 0)
			continue;
		if (chmod(p, st.st_mode & 0700) != 0) {
			snprintf(err, err_size, "cannot make %s private: %s", p,
				 strerror(errno));
			return false;
		}
	}
	return true;
}

/* SQLite reports a -wal or -shm file it cannot open as "unable to open
 * database file" or "disk I/O error", naming neither: say which one, and
 * why. The database itself must be readable too (root reads anything,
 * so this matters for a user's own files made unreadable). */
static bool files_usable(const char *path, char *err, size_t err_size)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s%s", path, suffix[i]);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, err_size, "cannot open %s: %s is not a "
				 "regular file", path, p);
			return false;
		}
		if (faccessat(AT_FDCWD, p, R_OK | W_OK, AT_EACCESS) != 0) {
			snprintf(err, err_size, "cannot open %s: %s is not "
				 "readable and writable (%s)", path, p,
				 strerror(errno));
			return false;
		}
	}
	return true;
}

static int user_version(struct store *s, bool *ok)
{
	sqlite3_stmt *st;
	int v = -1;
	*ok = false;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
			       NULL) != SQLITE_OK) {
		fail_db(s, "read schema version");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_int(st, 0);
		*ok = true;
	} else {
		fail_db(s, "read schema version");
	}
	sqlite3_finalize(st);
	return v;
}

static bool refuse_newer(struct store *s, int v)
{
	return fail(s, "%s: schema version %d is newer than this mpdrec "
		    "knows (%d); refusing to open it (upgrade mpdrec)",
		    s->path, v, SCHEMA_VERSION);
}

static bool migrate(struct store *s)
{
	bool ok;
	int v = user_version(s, &ok);
	if (!ok)
		return false;
	if (v > SCHEMA_VERSION)
		return refuse_newer(s, v);
	/* Not one of ours: a step below 0 would index before the array. */
	if (v < 0)
		return fail(s, "%s: schema version %d is not one mpdrec "
			    "writes (0 to %d); refusing to open it", s->path,
			    v, SCHEMA_VERSION);
	if (v == SCHEMA_VERSION)
		return true;
	if (!exec(s, "BEGIN IMMEDIATE", "migrate"))
		return false;
	/* Another process may have migrated while we waited for the lock. */
	v = user_version(s, &ok);
	if (!ok)
		goto fail;
	if (v > SCHEMA_VERSION || v < 0) {
		if (v > SCHEMA_VERSION)
			refuse_newer(s, v);
		else
			fail(s, "%s: schema version %d is not one mpdrec "
			     "writes", s->path, v);
		goto fail;
	}
	for (int i = v; i < SCHEMA_VERSION; i++) {
		char what[64];
		snprintf(what, sizeof what, "migrate schema %d to %d", i,
			 i + 1);
		if (!exec(s, migrations[i], what))
			goto fail;
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
	if (!exec(s, sql, "migrate") || !commit(s, "migrate"))
		goto fail;
	return true;
fail:
	rollback(s);
	return false;
}

/* Connection settings; see the top of the file for why. */
static bool configure(struct store *s)
{
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK)
		return fail_db(s, "set WAL mode");
	int rc = sqlite3_step(st);
	const unsigned char *mode = rc == SQLITE_ROW ?
				    sqlite3_column_text(st, 0) : NULL;
	bool wal = mode && strcmp((const char *)mode, "wal") == 0;
	if (rc != SQLITE_ROW)
		fail_db(s, "set WAL mode");
	else if (!wal)
		fail(s, "set WAL mode: SQLite kept journal mode \"%s\"",
		     mode ? (const char *)mode : "?");
	sqlite3_finalize(st);
	if (!wal)
		return false;
	return exec(s, "PRAGMA synchronous = FULL;"
		    "PRAGMA foreign_keys = OFF;"
		    "PRAGMA temp_store = MEMORY;"
		    /* keep the WAL from staying huge after a big sync */
		    "PRAGMA journal_size_limit = 4194304;",
		    "configure") &&
	       exec(s, "CREATE TEMP TABLE IF NOT EXISTS sync_seen("
		    "uri TEXT PRIMARY KEY) WITHOUT ROWID", "configure");
}

/* Whether the database at path, its directory dir and the files SQLite
 * keeps beside it may be written; else false with the reason in err. */
static bool files_writable(const char *dir, const char *path, char *err,
			   size_t err_size)
{
	/* SQLite would open a file it may not write read-only, or fail to
	 * create the WAL beside it, and say so only as "attempt to write a
	 * readonly database" later on. */
	if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0 &&
	    (errno == EACCES || errno == EROFS || errno == EPERM)) {
		snprintf(err, err_size, "cannot open %s: the database is "
			 "read-only (%s)", path, strerror(errno));
		return false;
	}
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0 &&
	    (errno == EACCES || errno == EROFS || errno == EPERM)) {
		snprintf(err, err_size, "cannot open %s: the directory %s is "
			 "read-only (%s); SQLite needs to create files there",
			 path, dir, strerror(errno));
		return false;
	}
	return files_usable(path, err, err_size);
}

/* Opens s->db read-write at s->path; false with the reason in err (s->db
 * may then be set, for store_close). */
static bool open_db(struct store *s, char *err, size_t err_size)
{
	/* NOMUTEX: a store is one thread's at a time (see store.h), so
	 * SQLite need not lock around every call (a tenth of reading a
	 * large library went to those locks). */
	int rc = sqlite3_open_v2(s->path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int e = s->db ? sqlite3_system_errno(s->db) : 0;
		snprintf(err, err_size, "cannot open %s: %s%s%s%s", s->path,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc),
			 e ? " (" : "", e ? strerror(e) : "", e ? ")" : "");
		return false;
	}
	/* SQLite silently opens a file it may not write read-only. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		snprintf(err, err_size, "cannot open %s: the database is "
			 "read-only (check its permissions and its "
			 "directory's)", s->path);
		return false;
	}
	return true;
}

struct store *store_open(const char *dir, char *err, size_t err_size)
{
	assert(dir && err && err_size > 0);
	err[0] = '\0';
	if (!*dir) {
		snprintf(err, err_size, "store: empty data directory");
		return NULL;
	}
	struct store *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, err_size, "store: out of memory");
		return NULL;
	}
	s->reserve_fd = -1;
	s->cache_min = CACHE_MIN;
	snprintf(s->cache_path, sizeof s->cache_path, "%s/%s", dir,
		 CACHE_FILE);
	if (snprintf(s->path, sizeof s->path, "%s/%s", dir, STORE_FILE) >=
	    (int)sizeof s->path) {
		snprintf(err, err_size, "%s: path too long", dir);
		free(s);
		return NULL;
	}
	if (!make_dirs(dir, err, err_size) ||
	    !make_private(s->path, err, err_size) ||
	    !files_writable(dir, s->path, err, err_size)) {
		free(s);
		return NULL;
	}
	if (!open_db(s, err, err_size))
		goto fail;
	if (!configure(s) || !migrate(s)) {
		/* (the newer-schema refusal names the file already) */
		if (strstr(s->error, s->path))
			snprintf(err, err_size, "%s", s->error);
		else
			snprintf(err, err_size, "%s: %s", s->path, s->error);
		goto fail;
	}
	if (!make_private(s->path, err, err_size))
		goto fail;
	return s;
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->db && s->in_sync)
		rollback(s);
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	/* The last connection to close checkpoints and removes the WAL. */
	sqlite3_close(s->db);
	free(s->buf);
	free(s);
}

const char *store_error(const struct store *s)
{
	assert(s);
	return s->error;
}

const char *store_kind_name(enum store_kind k)
{
	switch (k) {
	case STORE_KIND_PLAYED: return "played";
	case STORE_KIND_SKIPPED: return "skipped";
	case STORE_KIND_UNLABELLED: return "no label";
	case STORE_KIND_LIKE: return "like";
	case STORE_KIND_DISLIKE: return "dislike";
	case STORE_KIND_BAN: return "ban";
	}
	return "?";
}

int store_schema_version(void)
{
	return SCHEMA_VERSION;
}

const char *store_path(const struct store *s)
{
	assert(s);
	return s->path;
}

bool store_check_integrity(struct store *s)
{
	assert(s);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st,
			       NULL) != SQLITE_OK)
		return fail_db(s, "integrity check");
	int rc = sqlite3_step(st);
	bool ok = false;
	if (rc != SQLITE_ROW) {
		fail_db(s, "integrity check");
	} else {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		ok = t && strcmp(t, "ok") == 0;
		if (!ok)
			fail(s, "integrity check: %s", t ? t : "(null)");
	}
	sqlite3_finalize(st);
	return ok;
}

bool store_set_max_size(struct store *s, int64_t bytes)
{
	assert(s && bytes > 0);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st,
			       NULL) != SQLITE_OK)
		return fail_db(s, "set max size");
	int64_t page = sqlite3_step(st) == SQLITE_ROW ?
		       sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (page <= 0)
		return fail_db(s, "set max size");
	char sql[80];
	int64_t pages = bytes / page > 0 ? bytes / page : 1;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
		 (long long)pages);
	return exec(s, sql, "set max size");
}

/* --- tracks ------------------------------------------------------------- */

bool store_sync_begin(struct store *s)
{
	assert(s && !s->in_sync);
	if (!begin(s, "sync begin"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_SYNC_CLEAR, "sync begin");
	if (!st || !run(s, st, "sync begin")) {
		rollback(s);
		return false;
	}
	s->in_sync = true;
	return true;
}

bool store_sync_track(struct store *s, const struct store_track_info *t)
{
	assert(s && s->in_sync && t && t->uri);
	sqlite3_stmt *st = stmt(s, ST_SYNC_TRACK, "sync track");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, t->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->mtime);
	sqlite3_bind_text(st, 3, t->artist, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t->album, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, t->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, t->genre, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 7, t->duration);
	sqlite3_bind_double(st, 8, now_seconds());
	if (!run(s, st, "sync track"))
		return false;
	st = stmt(s, ST_SYNC_SEEN, "sync track");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, t->uri, -1, SQLITE_STATIC);
	return run(s, st, "sync track");
}

bool store_sync_end(struct store *s, int *gone)
{
	assert(s && s->in_sync);
	s->in_sync = false;
	if (sqlite3_get_autocommit(s->db))
		return fail(s, "sync end: SQLite already rolled the sync back "
			    "after an earlier error");
	sqlite3_stmt *st = stmt(s, ST_SYNC_GONE, "sync end");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, now_seconds());
	if (!run(s, st, "sync end"))
		goto fail;
	int n = sqlite3_changes(s->db);
	st = stmt(s, ST_SYNC_CLEAR, "sync end");
	if (!st || !run(s, st, "sync end") || !commit(s, "sync end"))
		goto fail;
	if (gone)
		*gone = n;
	return true;
fail:
	rollback(s);
	return false;
}

void store_sync_abort(struct store *s)
{
	assert(s);
	if (!s->in_sync)
		return;
	s->in_sync = false;
	rollback(s);
}

bool store_each_pending(struct store *s, int version,
			bool (*fn)(const char *uri, void *ctx), void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_PENDING, "pending tracks");
	if (!st)
		return false;
	sqlite3_bind_int(st, 1, version);
	struct strv uris = { 0 };
	bool ok = collect(s, st, &uris, "pending tracks");
	for (size_t i = 0; ok && i < uris.n; i++)
		if (!fn(uris.v[i], ctx))
			break;
	strv_free(&uris);
	return ok;
}

/* Updates one track with a statement whose ?1 is the uri; an unknown uri is
 * an error. Runs in its own transaction. */
static bool update_track(struct store *s, sqlite3_stmt *st, const char *uri,
			 const char *what)
{
	if (!begin(s, what))
		return false;
	if (!run(s, st, what)) {
		rollback(s);
		return false;
	}
	if (sqlite3_changes(s->db) == 0) {
		/* In a batch the other tracks' writes stand. */
		if (!s->in_batch)
			rollback(s);
		return fail(s, "%s: unknown track %s", what, uri);
	}
	return commit(s, what);
}

bool store_batch_begin(struct store *s)
{
	assert(s && !s->in_batch);
	if (!begin(s, "begin batch"))
		return false;
	s->in_batch = true;
	return true;
}

bool store_batch_end(struct store *s)
{
	assert(s);
	if (!s->in_batch)
		return fail(s, "end batch: the batch was rolled back after an "
			    "error");
	s->in_batch = false;
	return commit(s, "end batch");
}

bool store_set_features(struct store *s, const char *uri, int version,
			const float *v, int n, double duration)
{
	assert(s && uri && v && n > 0);
	size_t need = (size_t)n * 4;
	if (need > s->buf_size) {
		unsigned char *b = realloc(s->buf, need);
		if (!b)
			return fail(s, "set features: out of memory");
		s->buf = b;
		s->buf_size = need;
	}
	floats_to_le(s->buf, v, n);
	sqlite3_stmt *st = stmt(s, ST_SET_FEATURES, "set features");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, s->buf, (int)need, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, version);
	sqlite3_bind_int(st, 4, n);
	sqlite3_bind_double(st, 5, duration);
	sqlite3_bind_double(st, 6, now_seconds());
	return update_track(s, st, uri, "set features");
}

bool store_set_failed(struct store *s, const char *uri, const char *reason)
{
	assert(s && uri);
	sqlite3_stmt *st = stmt(s, ST_SET_FAILED, "set failed");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason ? reason : "unknown error", -1,
			  SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now_seconds());
	return update_track(s, st, uri, "set failed");
}

bool store_count_tracks(struct store *s, int counts[4])
{
	assert(s && counts);
	sqlite3_stmt *st = stmt(s, ST_COUNT_TRACKS, "count tracks");
	if (!st)
		return false;
	for (int i = 0; i < 4; i++)
		counts[i] = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int status = sqlite3_column_int(st, 0);
		if (status >= 0 && status < 4)
			counts[status] = sqlite3_column_int(st, 1);
	}
	if (rc != SQLITE_DONE)
		fail_db(s, "count tracks");
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* The library's strings live in blocks that only grow: one allocation per
 * block, not three per track (a million tracks made three million small
 * allocations and their headers). */
struct store_strings {
	struct store_strings *next;
	size_t used, size;
	char data[];
};

#define STRINGS_MIN (64u << 10)
#define STRINGS_MAX (1u << 20)

/* A copy of t (len bytes) in lib's blocks, or NULL when out of memory. */
static char *library_strdup(struct store_library *lib, const char *t,
			    size_t len)
{
	struct store_strings *b = lib->strings;
	if (!b || b->size - b->used < len + 1) {
		size_t size = b && b->size < STRINGS_MAX ? 2 * b->size
							  : STRINGS_MIN;
		if (size > STRINGS_MAX)
			size = STRINGS_MAX;
		if (size < len + 1)
			size = len + 1;
		b = malloc(sizeof *b + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = lib->strings;
		lib->strings = b;
	}
	char *d = b->data + b->used;
	memcpy(d, t, len);
	d[len] = '\0';
	b->used += len + 1;
	return d;
}

/* Column col as a string of lib (NULL for NULL), `same` when it equals
 * `prev` (then prev itself is returned: tracks of one artist share it). */
static char *library_column(struct store_library *lib, sqlite3_stmt *st,
			    int col, const char *prev, bool *oom)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	if (!t)
		return NULL;
	size_t len = (size_t)sqlite3_column_bytes(st, col);
	if (prev && strlen(prev) == len && memcmp(prev, t, len) == 0)
		return (char *)prev;
	char *d = library_strdup(lib, t, len);
	if (!d)
		*oom = true;
	return d;
}

void store_library_free(struct store_library *lib)
{
	if (!lib)
		return;
	if (!lib->strings && !lib->map) {
		/* Built by the caller, a string per malloc. */
		for (int i = 0; i < lib->n; i++) {
			free(lib->uri ? lib->uri[i] : NULL);
			free(lib->artist ? lib->artist[i] : NULL);
			free(lib->title ? lib->title[i] : NULL);
		}
	}
	for (struct store_strings *b = lib->strings, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(lib->uri);
	free(lib->artist);
	free(lib->title);
	free(lib->tags);
	if (!lib->map_arrays) {
		free(lib->album);
		free(lib->genre);
		free(lib->duration);
		free(lib->x);
		free(lib->banned);
	}
	if (lib->map && lib->map_size)
		munmap(lib->map, lib->map_size);
	free(lib);
}

/* Asks for transparent huge pages over the whole 2 MB pages of a large
 * array (where the system leaves them to madvise): the first touch of a
 * library's feature matrix page-faulted 80,000 times, a third of loading. */
static void huge_pages(void *p, size_t size)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t b = ((uintptr_t)p + size) & ~(huge - 1);
	if (b > a)
		madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)size;
#endif
}

/* Grows every array of lib to hold at least `need` tracks (doubling, so
 * that appending one at a time costs O(1) each; large arrays are moved by
 * the kernel, not copied). */
static bool library_reserve(struct store_library *lib, int need)
{
	if (need <= lib->cap)
		return true;
	int cap = lib->cap ? lib->cap : 256;
	while (cap < need)
		cap = cap > INT32_MAX / 2 ? INT32_MAX : 2 * cap;
	/* A library read from library.cache moves its arrays to the heap
	 * first (the strings stay mapped). */
	if (!libcache_detach(lib, cap))
		return false;
	size_t c = (size_t)cap;
	char **u = realloc(lib->uri, c * sizeof *u);
	if (u)
		lib->uri = u;
	char **a = realloc(lib->artist, c * sizeof *a);
	if (a)
		lib->artist = a;
	char **t = lib->title;
	if (t && (t = realloc(lib->title, c * sizeof *t)))
		lib->title = t;
	int32_t *al = lib->album;
	if (al && (al = realloc(lib->album, c * sizeof *al)))
		lib->album = al;
	int32_t *g = lib->genre;
	if (g && (g = realloc(lib->genre, c * sizeof *g)))
		lib->genre = g;
	float *d = realloc(lib->duration, c * sizeof *d);
	if (d)
		lib->duration = d;
	float *x = realloc(lib->x, c * (size_t)lib->dim * sizeof *x);
	if (x) {
		lib->x = x;
		huge_pages(x, c * (size_t)lib->dim * sizeof *x);
	}
	bool *b = realloc(lib->banned, c * sizeof *b);
	if (b)
		lib->banned = b;
	if (!u || !a || (lib->title && !t) || (lib->album && !al) ||
	    (lib->genre && !g) || !d || !x || !b)
		return false;
	lib->cap = cap;
	return true;
}

/* The number in lib->tags of column col's text (-1 when NULL or empty):
 * `prev`'s when it names the same (tracks of an album follow each other),
 * else a new one. */
static int32_t library_tag(struct store_library *lib, sqlite3_stmt *st,
			   int col, int32_t prev, bool *oom)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	if (!t || !*t)
		return -1;
	size_t len = (size_t)sqlite3_column_bytes(st, col);
	if (prev >= 0 && strlen(lib->tags[prev]) == len &&
	    !memcmp(lib->tags[prev], t, len))
		return prev;
	if (lib->n_tags == lib->cap_tags) {
		int cap = lib->cap_tags ? 2 * lib->cap_tags : 256;
		char **v = realloc(lib->tags, (size_t)cap * sizeof *v);
		if (!v) {
			*oom = true;
			return -1;
		}
		lib->tags = v;
		lib->cap_tags = cap;
	}
	char *d = library_strdup(lib, t, len);
	if (!d) {
		*oom = true;
		return -1;
	}
	lib->tags[lib->n_tags] = d;
	return lib->n_tags++;
}

/* An empty library of dim features, with title, album and genre arrays
 * or not. */
static struct store_library *library_new(int dim, bool titles, bool tags)
{
	struct store_library *lib = calloc(1, sizeof *lib);
	if (!lib)
		return NULL;
	lib->dim = dim;
	if ((titles && !(lib->title = malloc(sizeof *lib->title))) ||
	    (tags && (!(lib->album = malloc(sizeof *lib->album)) ||
		      !(lib->genre = malloc(sizeof *lib->genre))))) {
		store_library_free(lib);
		return NULL;
	}
	return lib;
}

struct store_library *store_load_library(struct store *s, int version,
					 int dim)
{
	return store_load_library_with(s, version, dim,
				       STORE_LIBRARY_SORTED |
				       STORE_LIBRARY_TITLES);
}

/* The library's rows, read from SQLite. */
static struct store_library *load_rows(struct store *s, int version, int dim,
				       unsigned flags)
{
	assert(s && dim > 0);
	bool titles = flags & STORE_LIBRARY_TITLES;
	bool tags = flags & STORE_LIBRARY_TAGS;
	/* Without bans of artists or albums a track's own flag says it all:
	 * no search of the bans for every row (a fifth of the query). */
	sqlite3_stmt *st;
	bool group_bans = true;
	if (sqlite3_prepare_v2(s->db, "SELECT EXISTS(SELECT 1 FROM bans)", -1,
			       &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		group_bans = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	/* The uri's index walks the table in random order: sorting costs
	 * more than reading (2.7 s against 0.5 s for a million rows). */
	char sql[640];
	snprintf(sql, sizeof sql,
		 "SELECT uri, artist, %s, duration, features, %s, %s"
		 " FROM tracks WHERE status = 1 AND features_version = ?1"
		 " AND features_dim = ?2 AND length(features) = ?2 * 4%s",
		 titles ? "title" : "NULL", group_bans ? BANNED : "banned",
		 tags ? "album, genre" : "NULL, NULL",
		 flags & STORE_LIBRARY_SORTED ? " ORDER BY uri" : "");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail_db(s, "load library");
		return NULL;
	}
	struct store_library *lib = library_new(dim, titles, tags);
	if (!lib) {
		sqlite3_finalize(st);
		fail(s, "load library: out of memory");
		return NULL;
	}
	sqlite3_bind_int(st, 1, version);
	sqlite3_bind_int(st, 2, dim);
	/* Room for all at once: growing by doubling moves the matrix, and
	 * the moved pages lose their huge pages (5x the page faults). */
	int rc = SQLITE_DONE, bound = 256;
	sqlite3_stmt *count = stmt(s, ST_COUNT_ANALYSED, "load library");
	if (count && sqlite3_step(count) == SQLITE_ROW &&
	    sqlite3_column_int64(count, 0) > bound &&
	    sqlite3_column_int64(count, 0) < INT32_MAX)
		bound = (int)sqlite3_column_int64(count, 0);
	if (count)
		sqlite3_reset(count);
	bool oom = !library_reserve(lib, bound);
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!library_reserve(lib, lib->n + 1)) {
			oom = true;
			break;
		}
		int i = lib->n;
		lib->uri[i] = library_column(lib, st, 0, NULL, &oom);
		lib->artist[i] = library_column(lib, st, 1,
						i ? lib->artist[i - 1] : NULL,
						&oom);
		if (titles)
			lib->title[i] = library_column(lib, st, 2, NULL, &oom);
		if (tags) {
			lib->album[i] = library_tag(lib, st, 6,
				i ? lib->album[i - 1] : -1, &oom);
			lib->genre[i] = library_tag(lib, st, 7,
				i ? lib->genre[i - 1] : -1, &oom);
		}
		lib->duration[i] = (float)sqlite3_column_double(st, 3);
		floats_from_le(lib->x + (size_t)i * (size_t)dim,
			       sqlite3_column_blob(st, 4), dim);
		lib->banned[i] = sqlite3_column_int(st, 5) != 0;
		if (!lib->uri[i])
			oom = true;
		else
			lib->n++;
	}
	if (oom)
		fail(s, "load library: out of memory");
	else if (rc != SQLITE_DONE)
		fail_db(s, "load library");
	sqlite3_finalize(st);
	if (oom || rc != SQLITE_DONE) {
		store_library_free(lib);
		return NULL;
	}
	return lib;
}

void store_set_cache_min(struct store *s, int tracks)
{
	s->cache_min = tracks < 0 ? 0 : tracks;
}

bool store_library_cached(const struct store *s, uint64_t *gen, char *why,
			  size_t size)
{
	if (gen)
		*gen = s->cache_gen;
	if (why && size)
		snprintf(why, size, "%s", s->cache_note);
	return s->cache_used;
}

/* The library's generation (library_gen); false on a database error. */
static bool library_gen(struct store *s, uint64_t *gen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT gen FROM library_gen", -1, &st,
			       NULL) != SQLITE_OK)
		return fail_db(s, "library generation");
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	if (ok)
		*gen = (uint64_t)sqlite3_column_int64(st, 0);
	else
		fail_db(s, "library generation");
	sqlite3_finalize(st);
	return ok;
}

int store_keep_library(struct store *s, const struct store_library *lib,
			int version, uint64_t gen)
{
	assert(s && lib);
	uint64_t now;
	if (!library_gen(s, &now))
		return -1;
	if (now != gen)
		return 0;	/* changed since: the next load reads it */
	if (lib->n < s->cache_min) {
		unlink(s->cache_path);
		return 0;
	}
	/* Room for it twice over: the store's own writes come first. */
	size_t bytes = (size_t)lib->n * ((size_t)lib->dim * 4 + 128);
	struct statvfs v;
	if (statvfs(s->path, &v) == 0 &&
	    (uint64_t)v.f_bavail * v.f_frsize < 2 * (uint64_t)bytes +
						(256u << 20)) {
		unlink(s->cache_path);
		fail(s, "%s not kept: too little room on its disk",
		     s->cache_path);
		return -1;
	}
	char err[4400];
	if (!libcache_write(s->cache_path, lib, version, gen, err,
			    sizeof err)) {
		fail(s, "%s", err);
		return -1;
	}
	return 1;
}

struct store_library *store_load_library_with(struct store *s, int version,
					      int dim, unsigned flags)
{
	assert(s && dim > 0);
	s->cache_used = false;
	s->cache_gen = 0;
	s->cache_note[0] = '\0';
	/* Never inside a transaction: a generation it rolls back could come
	 * again with other rows. */
	if (!(flags & STORE_LIBRARY_CACHE) || (flags & STORE_LIBRARY_SORTED) ||
	    !sqlite3_get_autocommit(s->db))
		return load_rows(s, version, dim, flags);
	/* The generation and the rows of one snapshot. */
	if (!exec(s, "SAVEPOINT library_load", "load library"))
		return NULL;
	struct store_library *lib = NULL;
	if (library_gen(s, &s->cache_gen)) {
		lib = libcache_read(s->cache_path, version, dim, flags,
				    s->cache_gen, s->cache_note,
				    sizeof s->cache_note);
		s->cache_used = lib != NULL;
		if (!lib)
			lib = load_rows(s, version, dim, flags);
	}
	if (!exec(s, "RELEASE library_load", "load library")) {
		store_library_free(lib);
		return NULL;
	}
	return lib;
}

enum store_row store_library_update(struct store *s, struct store_library *lib,
				    int version, const char *uri, int i)
{
	assert(s && lib && uri && i < lib->n);
	sqlite3_stmt *st = stmt(s, ST_LIBRARY_ROW, "library update");
	if (!st)
		return STORE_ROW_ERROR;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		fail_db(s, "library update");
		sqlite3_reset(st);
		return STORE_ROW_ERROR;
	}
	int dim = lib->dim;
	bool analysed = rc == SQLITE_ROW &&
			sqlite3_column_int(st, 0) == STORE_ANALYSED &&
			sqlite3_column_type(st, 1) != SQLITE_NULL &&
			sqlite3_column_int(st, 1) == version &&
			sqlite3_column_int(st, 2) == dim &&
			sqlite3_column_bytes(st, 3) == dim * 4;
	if (!analysed) {
		sqlite3_reset(st);
		return i >= 0 ? STORE_ROW_STALE : STORE_ROW_ABSENT;
	}
	bool oom = false, added = i < 0;
	if (added) {
		if (!library_reserve(lib, lib->n + 1)) {
			sqlite3_reset(st);
			fail(s, "library update: out of memory");
			return STORE_ROW_ERROR;
		}
		i = lib->n;
		lib->uri[i] = library_strdup(lib, uri, strlen(uri));
		oom = !lib->uri[i];
		lib->artist[i] = NULL;
		if (lib->title)
			lib->title[i] = NULL;
		if (lib->album)
			lib->album[i] = lib->genre[i] = -1;
	}
	lib->artist[i] = library_column(lib, st, 4,
					added ? (i ? lib->artist[i - 1] : NULL)
					      : lib->artist[i], &oom);
	if (lib->title)
		lib->title[i] = library_column(lib, st, 5, lib->title[i], &oom);
	if (lib->album) {
		lib->album[i] = library_tag(lib, st, 8, lib->album[i], &oom);
		lib->genre[i] = library_tag(lib, st, 9, lib->genre[i], &oom);
	}
	lib->duration[i] = (float)sqlite3_column_double(st, 6);
	floats_from_le(lib->x + (size_t)i * (size_t)dim,
		       sqlite3_column_blob(st, 3), dim);
	lib->banned[i] = sqlite3_column_int(st, 7) != 0;
	sqlite3_reset(st);
	if (oom) {
		fail(s, "library update: out of memory");
		return STORE_ROW_ERROR;
	}
	if (added)
		lib->n++;
	return added ? STORE_ROW_ADDED : STORE_ROW_REFRESHED;
}

void store_library_remove(struct store_library *lib, int i)
{
	assert(lib && i >= 0 && i < lib->n);
	int last = --lib->n;
	if (i == last)
		return;
	lib->uri[i] = lib->uri[last];
	lib->artist[i] = lib->artist[last];
	if (lib->title)
		lib->title[i] = lib->title[last];
	if (lib->album) {
		lib->album[i] = lib->album[last];
		lib->genre[i] = lib->genre[last];
	}
	lib->duration[i] = lib->duration[last];
	memcpy(lib->x + (size_t)i * (size_t)lib->dim,
	       lib->x + (size_t)last * (size_t)lib->dim,
	       (size_t)lib->dim * sizeof *lib->x);
	lib->banned[i] = lib->banned[last];
}

bool store_each_changed_track(struct store *s, double since,
			      bool (*fn)(const char *uri, void *ctx),
			      void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_CHANGED, "changed tracks");
	if (!st)
		return false;
	sqlite3_bind_double(st, 1, since);
	struct strv uris = { 0 };
	bool ok = collect(s, st, &uris, "changed tracks");
	for (size_t i = 0; ok && i < uris.n; i++)
		if (!fn(uris.v[i], ctx))
			break;
	strv_free(&uris);
	return ok;
}

bool store_each_banned(struct store *s,
			bool (*fn)(const char *uri, void *ctx), void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_BANNED, "banned tracks");
	if (!st)
		return false;
	struct strv uris = { 0 };
	bool ok = collect(s, st, &uris, "banned tracks");
	for (size_t i = 0; ok && i < uris.n; i++)
		if (!fn(uris.v[i], ctx))
			break;
	strv_free(&uris);
	return ok;
}

/* --- the listing: a sync in rounds ------------------------------------- */

struct store_listing {
	uint64_t *seen;		/* one bit per rowid */
	size_t words;
	int written;
};

struct store_listing *store_listing_new(void)
{
	return calloc(1, sizeof(struct store_listing));
}

void store_listing_free(struct store_listing *l)
{
	if (!l)
		return;
	free(l->seen);
	free(l);
}

static bool listing_mark(struct store_listing *l, int64_t rowid)
{
	if (rowid < 0)
		return true;
	size_t w = (size_t)rowid / 64;
	if (w >= l->words) {
		size_t words = l->words ? l->words : 1024;
		while (words <= w)
			words *= 2;
		uint64_t *v = realloc(l->seen, words * sizeof *v);
		if (!v)
			return false;
		memset(v + l->words, 0, (words - l->words) * sizeof *v);
		l->seen = v;
		l->words = words;
	}
	l->seen[w] |= 1ull << (rowid % 64);
	return true;
}

static bool listing_has(const struct store_listing *l, int64_t rowid)
{
	size_t w = (size_t)rowid / 64;
	return rowid >= 0 && w < l->words &&
	       (l->seen[w] >> (rowid % 64) & 1);
}

static bool same_text(sqlite3_stmt *st, int col, const char *t)
{
	const unsigned char *c = sqlite3_column_text(st, col);
	if (!c || !t)
		return !c && !t;
	return strcmp((const char *)c, t) == 0;
}

/* Whether the row the lookup found says what the sync would write: then
 * the sync only reads it (a million unchanged tracks rewrote the whole
 * table and its WAL at every start). Durations: MPD's and the analysis'
 * differ by a few milliseconds. */
static bool listing_unchanged(sqlite3_stmt *st,
			      const struct store_track_info *t)
{
	double d = sqlite3_column_double(st, 7);
	return sqlite3_column_int64(st, 1) == t->mtime &&
	       sqlite3_column_int(st, 2) != STORE_GONE &&
	       same_text(st, 3, t->artist) && same_text(st, 4, t->album) &&
	       same_text(st, 5, t->title) && same_text(st, 6, t->genre) &&
	       (t->duration <= 0 || fabs(d - t->duration) < 0.5);
}

bool store_listing_add(struct store *s, struct store_listing *l,
		       const struct store_track_info *t, int n)
{
	assert(s && l && (t || n == 0));
	if (n == 0)
		return true;
	if (!begin(s, "sync tracks"))
		return false;
	int written = 0;
	for (int k = 0; k < n; k++) {
		sqlite3_stmt *st = stmt(s, ST_SYNC_LOOKUP, "sync tracks");
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, t[k].uri, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			fail_db(s, "sync tracks");
			sqlite3_reset(st);
			goto fail;
		}
		int64_t rowid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0)
						 : -1;
		bool same = rc == SQLITE_ROW && listing_unchanged(st, &t[k]);
		sqlite3_reset(st);
		if (!same) {
			st = stmt(s, ST_SYNC_TRACK, "sync tracks");
			if (!st)
				goto fail;
			sqlite3_bind_text(st, 1, t[k].uri, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, t[k].mtime);
			sqlite3_bind_text(st, 3, t[k].artist, -1,
					  SQLITE_STATIC);
			sqlite3_bind_text(st, 4, t[k].album, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 5, t[k].title, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 6, t[k].genre, -1, SQLITE_STATIC);
			sqlite3_bind_double(st, 7, t[k].duration);
			sqlite3_bind_double(st, 8, now_seconds());
			if (!run(s, st, "sync tracks"))
				goto fail;
			if (rowid < 0)
				rowid = sqlite3_last_insert_rowid(s->db);
			written++;
		}
		if (!listing_mark(l, rowid)) {
			fail(s, "sync tracks: out of memory");
			goto fail;
		}
	}
	if (!commit(s, "sync tracks"))
		return false;
	l->written += written;
	return true;
fail:
	rollback(s);
	return false;
}

bool store_listing_end(struct store *s, struct store_listing *l, int *gone,
		       int *written)
{
	assert(s && l);
	sqlite3_stmt *st = stmt(s, ST_SYNC_LIVE, "sync end");
	if (!st)
		return false;
	int64_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(st, 0);
		if (listing_has(l, rowid))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			int64_t *nv = realloc(v, cap * sizeof *nv);
			if (!nv) {
				sqlite3_reset(st);
				free(v);
				return fail(s, "sync end: out of memory");
			}
			v = nv;
		}
		v[n++] = rowid;
	}
	if (rc != SQLITE_DONE) {
		fail_db(s, "sync end");
		sqlite3_reset(st);
		free(v);
		return false;
	}
	sqlite3_reset(st);
	int marked = 0;
	bool ok = n == 0 || begin(s, "sync end");
	double now = now_seconds();
	for (size_t k = 0; ok && k < n; k++) {
		ok = (st = stmt(s, ST_SYNC_MARK_GONE, "sync end")) != NULL;
		if (!ok)
			break;
		sqlite3_bind_int64(st, 1, v[k]);
		sqlite3_bind_double(st, 2, now);
		ok = run(s, st, "sync end");
		marked += ok ? sqlite3_changes(s->db) : 0;
	}
	free(v);
	if (n > 0 && (!ok || !commit(s, "sync end"))) {
		rollback(s);
		return false;
	}
	if (gone)
		*gone = marked;
	if (written)
		*written = l->written;
	return true;
}

bool store_each_pending_track(struct store *s, int version,
			      bool (*fn)(const struct store_track_info *t,
					 void *ctx),
			      void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_PENDING_INFO, "pending tracks");
	if (!st)
		return false;
	sqlite3_bind_int(st, 1, version);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const struct store_track_info t = {
			.uri = (const char *)sqlite3_column_text(st, 0),
			.artist = (const char *)sqlite3_column_text(st, 1),
			.album = (const char *)sqlite3_column_text(st, 2),
			.duration = sqlite3_column_double(st, 3),
		};
		if (t.uri && !fn(&t, ctx)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		fail_db(s, "pending tracks");
	sqlite3_reset(st);
	return rc == SQLITE_DONE;
}

/* URIs of up to n listed tracks with rowid in [from, to). */
static bool sample_range(struct store *s, int64_t from, int64_t to, int n,
			 struct strv *out)
{
	sqlite3_stmt *st = stmt(s, ST_SAMPLE, "sample tracks");
	if (!st)
		return false;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	sqlite3_bind_int(st, 3, n);
	return collect(s, st, out, "sample tracks");
}

bool store_sample_tracks(struct store *s, int n, uint64_t seed,
			 bool (*fn)(const char *uri, void *ctx), void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_MAX_ROWID, "sample tracks");
	if (!st)
		return false;
	int rc = sqlite3_step(st);
	int64_t max = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return fail_db(s, "sample tracks");
	int64_t start = max > 0 ? (int64_t)(seed % (uint64_t)max) + 1 : 0;
	struct strv uris = { 0 };
	bool ok = sample_range(s, start, INT64_MAX, n, &uris) &&
		  ((int)uris.n >= n ||
		   sample_range(s, 0, start, n - (int)uris.n, &uris));
	for (size_t i = 0; ok && i < uris.n; i++)
		if (!fn(uris.v[i], ctx))
			break;
	strv_free(&uris);
	return ok;
}

bool store_get_track(struct store *s, const char *uri, int version, int dim,
		     float *v, enum store_status *status, char **error)
{
	assert(s && uri);
	if (error)
		*error = NULL;
	sqlite3_stmt *st = stmt(s, ST_GET_TRACK, "get track");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return fail(s, "get track: unknown track %s", uri);
	}
	if (rc != SQLITE_ROW) {
		fail_db(s, "get track");
		sqlite3_reset(st);
		return false;
	}
	enum store_status stat = (enum store_status)sqlite3_column_int(st, 0);
	bool match = sqlite3_column_type(st, 2) != SQLITE_NULL &&
		     sqlite3_column_int(st, 2) == version &&
		     sqlite3_column_int(st, 3) == dim &&
		     sqlite3_column_bytes(st, 4) == dim * 4;
	if (stat == STORE_ANALYSED && !match)
		stat = STORE_PENDING;
	if (stat == STORE_ANALYSED && v)
		floats_from_le(v, sqlite3_column_blob(st, 4), dim);
	bool oom = false;
	char *e = dup_column(st, 1, &oom);
	sqlite3_reset(st);
	if (oom)
		return fail(s, "get track: out of memory");
	if (status)
		*status = stat;
	if (error)
		*error = e;
	else
		free(e);
	return true;
}

/* --- events ------------------------------------------------------------- */

bool store_add_event(struct store *s, struct store_event *e)
{
	assert(s && e && e->uri);
	if (!begin(s, "add event"))
		return false;
	double now = now_seconds();
	sqlite3_stmt *st = stmt(s, ST_ADD_EVENT, "add event");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, e->time);
	sqlite3_bind_text(st, 2, e->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)e->kind);
	sqlite3_bind_double(st, 4, e->played);
	sqlite3_bind_double(st, 5, e->duration);
	sqlite3_bind_int(st, 6, e->label);
	sqlite3_bind_double(st, 7, e->weight);
	sqlite3_bind_text(st, 8, e->source, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, e->queued_by_us);
	if (!run(s, st, "add event"))
		goto fail;
	int64_t id = sqlite3_last_insert_rowid(s->db);
	if (e->kind == STORE_KIND_BAN || e->kind == STORE_KIND_LIKE) {
		st = stmt(s, e->kind == STORE_KIND_BAN ? ST_BAN : ST_UNBAN,
			  "add event");
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, e->uri, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, now);
		if (!run(s, st, "add event"))
			goto fail;
	}
	if (!commit(s, "add event"))
		return false;
	e->id = id;
	return true;
fail:
	rollback(s);
	return false;
}

void store_examples_free(struct store_examples *ex)
{
	if (!ex)
		return;
	for (int i = 0; i < ex->n; i++)
		free(ex->uri[i]);
	free(ex->uri);
	free(ex->x);
	free(ex->y);
	free(ex->w);
	free(ex->time);
	free(ex);
}

static bool examples_grow(struct store_examples *ex, int cap)
{
	size_t c = (size_t)cap;
	float *x = realloc(ex->x, c * (size_t)ex->dim * sizeof *x);
	if (x)
		ex->x = x;
	float *y = realloc(ex->y, c * sizeof *y);
	if (y)
		ex->y = y;
	float *w = realloc(ex->w, c * sizeof *w);
	if (w)
		ex->w = w;
	double *t = realloc(ex->time, c * sizeof *t);
	if (t)
		ex->time = t;
	char **u = realloc(ex->uri, c * sizeof *u);
	if (u)
		ex->uri = u;
	return x && y && w && t && u;
}

struct store_examples *store_load_examples(struct store *s, int version,
					   int dim)
{
	assert(s && dim > 0);
	sqlite3_stmt *st = stmt(s, ST_EXAMPLES, "load examples");
	if (!st)
		return NULL;
	struct store_examples *ex = calloc(1, sizeof *ex);
	if (!ex) {
		fail(s, "load examples: out of memory");
		return NULL;
	}
	ex->dim = dim;
	sqlite3_bind_int(st, 1, version);
	sqlite3_bind_int(st, 2, dim);
	int cap, rc = SQLITE_DONE;
	bool oom = !examples_grow(ex, cap = 256);
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ex->n == cap && !examples_grow(ex, cap *= 2)) {
			oom = true;
			break;
		}
		int i = ex->n;
		ex->uri[i] = dup_column(st, 1, &oom);
		ex->n++;
		if (!ex->uri[i])
			oom = true;
		ex->time[i] = sqlite3_column_double(st, 0);
		ex->y[i] = (float)sqlite3_column_int(st, 2);
		ex->w[i] = (float)sqlite3_column_double(st, 3);
		floats_from_le(ex->x + (size_t)i * (size_t)dim,
			       sqlite3_column_blob(st, 4), dim);
	}
	if (oom)
		fail(s, "load examples: out of memory");
	else if (rc != SQLITE_DONE)
		fail_db(s, "load examples");
	sqlite3_reset(st);
	if (oom || rc != SQLITE_DONE) {
		store_examples_free(ex);
		return NULL;
	}
	return ex;
}

bool store_count_events(struct store *s, int64_t *all, int64_t *labelled)
{
	assert(s);
	sqlite3_stmt *st = stmt(s, ST_COUNT_EVENTS, "count events");
	if (!st)
		return false;
	if (sqlite3_step(st) != SQLITE_ROW) {
		fail_db(s, "count events");
		sqlite3_reset(st);
		return false;
	}
	if (all)
		*all = sqlite3_column_int64(st, 0);
	if (labelled)
		*labelled = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return true;
}

/* An event row copied out of SQLite, so fn may call the store. */
struct event_row {
	struct store_event e;
	char *uri, *source;
};

bool store_each_recent_event(struct store *s, int limit,
			     bool (*fn)(const struct store_event *e, void *ctx),
			     void *ctx)
{
	assert(s && fn);
	if (limit <= 0)
		return true;
	sqlite3_stmt *st = stmt(s, ST_RECENT, "recent events");
	if (!st)
		return false;
	sqlite3_bind_int(st, 1, limit);
	struct event_row *rows = NULL;
	int n = 0, cap = 0, rc = SQLITE_DONE;
	bool oom = false;
	while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			struct event_row *r = realloc(rows, (size_t)cap *
						      sizeof *r);
			if (!r) {
				oom = true;
				break;
			}
			rows = r;
		}
		struct event_row *r = &rows[n++];
		r->uri = dup_column(st, 2, &oom);
		r->source = dup_column(st, 8, &oom);
		r->e = (struct store_event){
			.id = sqlite3_column_int64(st, 0),
			.time = sqlite3_column_double(st, 1),
			.uri = r->uri ? r->uri : "",
			.kind = (enum store_kind)sqlite3_column_int(st, 3),
			.played = sqlite3_column_double(st, 4),
			.duration = sqlite3_column_double(st, 5),
			.label = sqlite3_column_int(st, 6),
			.weight = sqlite3_column_double(st, 7),
			.source = r->source,
			.queued_by_us = sqlite3_column_int(st, 9) != 0,
		};
	}
	bool ok = !oom && rc == SQLITE_DONE;
	if (oom)
		fail(s, "recent events: out of memory");
	else if (!ok)
		fail_db(s, "recent events");
	sqlite3_reset(st);
	for (int i = 0; ok && i < n; i++)
		if (!fn(&rows[i].e, ctx))
			break;
	for (int i = 0; i < n; i++) {
		free(rows[i].uri);
		free(rows[i].source);
	}
	free(rows);
	return ok;
}

bool store_is_banned(struct store *s, const char *uri, bool *banned)
{
	assert(s && uri && banned);
	sqlite3_stmt *st = stmt(s, ST_IS_BANNED, "is banned");
	if (!st)
		return false;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		fail_db(s, "is banned");
		sqlite3_reset(st);
		return false;
	}
	*banned = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
	sqlite3_reset(st);
	return true;
}

bool store_each_played_since(struct store *s, double since,
			     bool (*fn)(const char *uri, void *ctx), void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_PLAYED_SINCE, "played since");
	if (!st)
		return false;
	sqlite3_bind_double(st, 1, since);
	struct strv uris = { 0 };
	bool ok = collect(s, st, &uris, "played since");
	for (size_t i = 0; ok && i < uris.n; i++)
		if (!fn(uris.v[i], ctx))
			break;
	strv_free(&uris);
	return ok;
}

/* --- picks -------------------------------------------------------------- */

bool store_add_pick(struct store *s, const struct store_pick *p, int64_t *id)
{
	assert(s && p && p->uri);
	if (!begin(s, "add pick"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_ADD_PICK, "add pick");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, p->time);
	sqlite3_bind_text(st, 2, p->uri, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, p->score);
	sqlite3_bind_double(st, 4, p->uncertainty);
	sqlite3_bind_int(st, 5, p->explored);
	sqlite3_bind_text(st, 6, p->reason, -1, SQLITE_STATIC);
	if (!run(s, st, "add pick"))
		goto fail;
	int64_t rowid = sqlite3_last_insert_rowid(s->db);
	if (!commit(s, "add pick"))
		return false;
	if (id)
		*id = rowid;
	return true;
fail:
	rollback(s);
	return false;
}

bool store_set_pick_outcome(struct store *s, const char *uri, int outcome)
{
	assert(s && uri && outcome >= -1 && outcome <= 1);
	if (!begin(s, "set pick outcome"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_PICK_OUTCOME, "set pick outcome");
	if (!st)
		goto fail;
	sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, outcome);
	if (!run(s, st, "set pick outcome"))
		goto fail;
	return commit(s, "set pick outcome");
fail:
	rollback(s);
	return false;
}

bool store_pick_stats(struct store *s, int last, bool explored_only,
		      int *liked, int *judged)
{
	assert(s && liked && judged);
	sqlite3_stmt *st = stmt(s, ST_PICK_STATS, "pick stats");
	if (!st)
		return false;
	sqlite3_bind_int(st, 1, explored_only);
	sqlite3_bind_int(st, 2, last > 0 ? last : -1);
	if (sqlite3_step(st) != SQLITE_ROW) {
		fail_db(s, "pick stats");
		sqlite3_reset(st);
		return false;
	}
	*judged = sqlite3_column_int(st, 0);
	*liked = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	return true;
}

/* --- model -------------------------------------------------------------- */

bool store_save_model(struct store *s, const void *blob, size_t size)
{
	assert(s && blob && size > 0);
	if (size > (size_t)INT32_MAX)
		return fail(s, "save model: blob of %zu bytes is too large",
			    size);
	uint64_t sum = fnv1a64(blob, size);
	int64_t sum_col;
	memcpy(&sum_col, &sum, sizeof sum_col);
	if (!begin(s, "save model"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_MODEL_DELETE, "save model");
	if (!st || !run(s, st, "save model"))
		goto fail;
	st = stmt(s, ST_MODEL_INSERT, "save model");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, now_seconds());
	sqlite3_bind_blob(st, 2, blob, (int)size, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)size);
	sqlite3_bind_int64(st, 4, sum_col);
	if (!run(s, st, "save model"))
		goto fail;
	return commit(s, "save model");
fail:
	rollback(s);
	return false;
}

uint64_t store_model_checksum(const void *blob, size_t size)
{
	return fnv1a64(blob, size);
}

bool store_model_stamp(struct store *s, uint64_t *stamp)
{
	assert(s && stamp);
	*stamp = 0;
	sqlite3_stmt *st = stmt(s, ST_MODEL_STAMP, "model stamp");
	if (!st)
		return false;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t col = sqlite3_column_int64(st, 0);
		memcpy(stamp, &col, sizeof *stamp);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fail_db(s, "model stamp");
	return true;
}

bool store_load_model(struct store *s, void **blob, size_t *size)
{
	assert(s && blob && size);
	*blob = NULL;
	*size = 0;
	s->model_corrupt = false;
	sqlite3_stmt *st = stmt(s, ST_MODEL_LOAD, "load model");
	if (!st)
		return false;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return true;
	}
	if (rc != SQLITE_ROW) {
		fail_db(s, "load model");
		sqlite3_reset(st);
		return false;
	}
	const void *b = sqlite3_column_blob(st, 0);
	size_t n = (size_t)sqlite3_column_bytes(st, 0);
	int64_t want_size = sqlite3_column_int64(st, 1);
	int64_t sum_col = sqlite3_column_int64(st, 2);
	uint64_t want, got = fnv1a64(b, n);
	memcpy(&want, &sum_col, sizeof want);
	bool ok = false;
	if (!b || n == 0 || (int64_t)n != want_size) {
		fail(s, "load model: stored size %lld, blob has %zu bytes: "
		     "the model is corrupt", (long long)want_size, n);
		s->model_corrupt = true;
	} else if (got != want) {
		fail(s, "load model: checksum mismatch (stored %016llx, "
		     "computed %016llx): the model is corrupt",
		     (unsigned long long)want, (unsigned long long)got);
		s->model_corrupt = true;
	}
	else if (!(*blob = malloc(n)))
		fail(s, "load model: out of memory");
	else {
		memcpy(*blob, b, n);
		*size = n;
		ok = true;
	}
	sqlite3_reset(st);
	return ok;
}

bool store_model_corrupt(const struct store *s)
{
	assert(s);
	return s->model_corrupt;
}

bool store_reject_model(struct store *s, const char *why)
{
	assert(s && why);
	if (!begin(s, "set the model aside"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_MODEL_REJECT, "set the model aside");
	if (!st)
		goto fail;
	sqlite3_bind_double(st, 1, now_seconds());
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	if (!run(s, st, "set the model aside"))
		goto fail;
	st = stmt(s, ST_REJECTED_TRIM, "set the model aside");
	if (!st)
		goto fail;
	sqlite3_bind_int(st, 1, STORE_REJECTED_KEPT);
	if (!run(s, st, "set the model aside"))
		goto fail;
	st = stmt(s, ST_MODEL_DELETE, "set the model aside");
	if (!st || !run(s, st, "set the model aside"))
		goto fail;
	return commit(s, "set the model aside");
fail:
	rollback(s);
	return false;
}

bool store_add_training(struct store *s, double time, int events,
			double train_acc, double val_acc, double val_auc,
			double val_logloss)
{
	assert(s);
	if (!begin(s, "add training"))
		return false;
	sqlite3_stmt *st = stmt(s, ST_ADD_TRAINING, "add training");
	if (!st)
		goto fail;
	/* SQLite binds NaN as NULL. */
	sqlite3_bind_double(st, 1, time);
	sqlite3_bind_int(st, 2, events);
	sqlite3_bind_double(st, 3, train_acc);
	sqlite3_bind_double(st, 4, val_acc);
	sqlite3_bind_double(st, 5, val_auc);
	sqlite3_bind_double(st, 6, val_logloss);
	if (!run(s, st, "add training"))
		goto fail;
	return commit(s, "add training");
fail:
	rollback(s);
	return false;
}

bool store_each_training(struct store *s,
			 bool (*fn)(const struct store_training *t, void *ctx),
			 void *ctx)
{
	assert(s && fn);
	sqlite3_stmt *st = stmt(s, ST_TRAINING, "training");
	if (!st)
		return false;
	struct store_training *rows = NULL;
	int n = 0, cap = 0, rc = SQLITE_DONE;
	bool oom = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			struct store_training *r = realloc(rows, (size_t)cap *
							   sizeof *r);
			if (!r) {
				oom = true;
				break;
			}
			rows = r;
		}
		rows[n++] = (struct store_training){
			.time = sqlite3_column_double(st, 0),
			.events = sqlite3_column_int(st, 1),
			.train_acc = column_double_or_nan(st, 2),
			.val_acc = column_double_or_nan(st, 3),
			.val_auc = column_double_or_nan(st, 4),
			.val_logloss = column_double_or_nan(st, 5),
		};
	}
	bool ok = !oom && rc == SQLITE_DONE;
	if (oom)
		fail(s, "training: out of memory");
	else if (!ok)
		fail_db(s, "training");
	sqlite3_reset(st);
	for (int i = 0; ok && i < n; i++)
		if (!fn(&rows[i], ctx))
			break;
	free(rows);
	return ok;
}

/* --- for the commands: failures, tags, history, picks, bans -------------- */

/* These run seldom (a command, a report): each prepares its statement on the
 * spot and copies every row out before calling back, so the callback may
 * use the store. */

/* Rows of text columns (NULL kept as NULL), copied out of SQLite. */
struct rows {
	int n, cols;
	char **cell;		/* n × cols */
	bool *null;		/* n × cols */
};

static void rows_free(struct rows *r)
{
	for (int i = 0; i < r->n * r->cols; i++)
		free(r->cell[i]);
	free(r->cell);
	free(r->null);
	memset(r, 0, sizeof *r);
}

/* Runs sql with text parameters (params[0] is ?1 ...; NULL binds NULL) and
 * copies every row. Returns false with the error set. */
static bool query_rows(struct store *s, const char *sql,
		       const char *const *params, int n_params,
		       struct rows *out, const char *what)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail_db(s, what);
	for (int k = 0; k < n_params; k++)
		sqlite3_bind_text(st, k + 1, params[k], -1, SQLITE_STATIC);
	out->cols = sqlite3_column_count(st);
	int cap = 0, rc;
	bool oom = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->n == cap) {
			cap = cap ? 2 * cap : 64;
			size_t cells = (size_t)cap * (size_t)out->cols;
			char **c = realloc(out->cell, cells * sizeof *c);
			if (c)
				out->cell = c;
			bool *z = realloc(out->null, cells * sizeof *z);
			if (z)
				out->null = z;
			if (!c || !z) {
				oom = true;
				break;
			}
		}
		size_t base = (size_t)out->n * (size_t)out->cols;
		for (int j = 0; j < out->cols; j++) {
			out->null[base + j] =
				sqlite3_column_type(st, j) == SQLITE_NULL;
			out->cell[base + j] = dup_column(st, j, &oom);
		}
		out->n++;
		if (oom)
			break;
	}
	if (oom)
		fail(s, "%s: out of memory", what);
	else if (rc != SQLITE_DONE)
		fail_db(s, what);
	sqlite3_finalize(st);
	if (oom || rc != SQLITE_DONE) {
		rows_free(out);
		return false;
	}
	return true;
}

static const char *cell(const struct rows *r, int i, int j)
{
	return r->cell[(size_t)i * (size_t)r->cols + (size_t)j];
}

static double cell_double(const struct rows *r, int i, int j)
{
	const char *t = cell(r, i, j);
	return t ? strtod(t, NULL) : NAN;
}

static int cell_int(const struct rows *r, int i, int j, int if_null)
{
	const char *t = cell(r, i, j);
	return t ? (int)strtol(t, NULL, 10) : if_null;
}

bool store_each_failed(struct store *s, int limit,
		       bool (*fn)(const char *uri, const char *error,
				  void *ctx),
		       void *ctx)
{
	assert(s && fn);
	char lim[32];
	snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : -1);
	const char *p[] = { lim };
	struct rows r;
	if (!query_rows(s, "SELECT uri, error FROM tracks WHERE status = 2"
			" ORDER BY uri LIMIT CAST(?1 AS INTEGER)", p, 1, &r,
			"failed tracks"))
		return false;
	for (int i = 0; i < r.n; i++)
		if (!fn(cell(&r, i, 0), cell(&r, i, 1), ctx))
			break;
	rows_free(&r);
	return true;
}

bool store_get_tags(struct store *s, const char *uri,
		    bool (*fn)(const struct store_track_info *t, void *ctx),
		    void *ctx)
{
	assert(s && uri && fn);
	const char *p[] = { uri };
	struct rows r;
	if (!query_rows(s, "SELECT uri, mtime, artist, album, title, genre,"
			" duration FROM tracks WHERE uri = ?1", p, 1, &r,
			"get tags"))
		return false;
	if (r.n == 0) {
		rows_free(&r);
		return fail(s, "get tags: unknown track %s", uri);
	}
	struct store_track_info t = {
		.uri = cell(&r, 0, 0),
		.mtime = (int64_t)cell_double(&r, 0, 1),
		.artist = cell(&r, 0, 2),
		.album = cell(&r, 0, 3),
		.title = cell(&r, 0, 4),
		.genre = cell(&r, 0, 5),
		.duration = cell_double(&r, 0, 6),
	};
	fn(&t, ctx);
	rows_free(&r);
	return true;
}

bool store_each_labelled(struct store *s,
			 bool (*fn)(const struct store_labelled *e, void *ctx),
			 void *ctx)
{
	assert(s && fn);
	struct rows r;
	if (!query_rows(s, "SELECT e.time, e.uri, e.kind, e.label,"
			" t.artist, t.album, t.title FROM events e"
			" LEFT JOIN tracks t ON t.uri = e.uri"
			" WHERE e.label IN (0, 1) ORDER BY e.time, e.id",
			NULL, 0, &r, "labelled events"))
		return false;
	for (int i = 0; i < r.n; i++) {
		struct store_labelled e = {
			.time = cell_double(&r, i, 0),
			.uri = cell(&r, i, 1) ? cell(&r, i, 1) : "",
			.kind = (enum store_kind)cell_int(&r, i, 2, 0),
			.label = cell_int(&r, i, 3, -1),
			.artist = cell(&r, i, 4),
			.album = cell(&r, i, 5),
			.title = cell(&r, i, 6),
		};
		if (!fn(&e, ctx))
			break;
	}
	rows_free(&r);
	return true;
}

bool store_each_pick(struct store *s,
		     bool (*fn)(const struct store_pick *p, int outcome,
				void *ctx),
		     void *ctx)
{
	assert(s && fn);
	struct rows r;
	if (!query_rows(s, "SELECT time, uri, score, uncertainty, explored,"
			" reason, outcome FROM picks ORDER BY id", NULL, 0,
			&r, "picks"))
		return false;
	for (int i = 0; i < r.n; i++) {
		struct store_pick p = {
			.time = cell_double(&r, i, 0),
			.uri = cell(&r, i, 1) ? cell(&r, i, 1) : "",
			.score = cell_double(&r, i, 2),
			.uncertainty = cell_double(&r, i, 3),
			.explored = cell_int(&r, i, 4, 0) != 0,
			.reason = cell(&r, i, 5),
		};
		if (!fn(&p, cell_int(&r, i, 6, STORE_PICK_OPEN), ctx))
			break;
	}
	rows_free(&r);
	return true;
}

/* Runs one changing statement with text parameters in its own transaction;
 * *changed (may be NULL) receives the rows it changed. */
static bool change(struct store *s, const char *sql, const char *const *params,
		   int n_params, int *changed, const char *what)
{
	if (!begin(s, what))
		return false;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail_db(s, what);
		rollback(s);
		return false;
	}
	for (int k = 0; k < n_params; k++)
		sqlite3_bind_text(st, k + 1, params[k], -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		fail_db(s, what);
		sqlite3_finalize(st);
		rollback(s);
		return false;
	}
	sqlite3_finalize(st);
	if (changed)
		*changed = sqlite3_changes(s->db);
	return commit(s, what);
}

bool store_ban_group(struct store *s, enum store_group g, const char *name,
		     bool ban, int *changed)
{
	assert(s && name &&
	       (g == STORE_GROUP_ARTIST || g == STORE_GROUP_ALBUM));
	char kind[8], now[64];
	snprintf(kind, sizeof kind, "%d", (int)g);
	snprintf(now, sizeof now, "%.6f", now_seconds());
	const char *p[] = { kind, name, now };
	return ban ? change(s, "INSERT OR IGNORE INTO bans(kind, name, time)"
			    " VALUES(CAST(?1 AS INTEGER), ?2,"
			    " CAST(?3 AS REAL))", p, 3, changed, "ban")
		   : change(s, "DELETE FROM bans WHERE kind ="
			    " CAST(?1 AS INTEGER) AND name = ?2", p, 2,
			    changed, "unban");
}

bool store_each_ban(struct store *s,
		    bool (*fn)(enum store_group g, const char *name,
			       void *ctx),
		    void *ctx)
{
	assert(s && fn);
	struct rows r;
	if (!query_rows(s, "SELECT kind, name FROM bans ORDER BY kind, name",
			NULL, 0, &r, "bans"))
		return false;
	for (int i = 0; i < r.n; i++)
		if (!fn((enum store_group)cell_int(&r, i, 0, 0),
			cell(&r, i, 1) ? cell(&r, i, 1) : "", ctx))
			break;
	rows_free(&r);
	return true;
}

bool store_count_group(struct store *s, enum store_group g, const char *name,
		       int *tracks)
{
	assert(s && name && tracks);
	const char *p[] = { name };
	struct rows r;
	if (!query_rows(s, g == STORE_GROUP_ARTIST
				   ? "SELECT count(*) FROM tracks WHERE"
				     " artist = ?1 AND status != 3"
				   : "SELECT count(*) FROM tracks WHERE"
				     " album = ?1 AND status != 3",
			p, 1, &r, "count tracks"))
		return false;
	*tracks = r.n ? cell_int(&r, 0, 0, 0) : 0;
	rows_free(&r);
	return true;
}

bool store_unban(struct store *s, const char *uri, int *changed)
{
	assert(s && uri);
	if (!begin(s, "unban"))
		return false;
	bool was_batch = s->in_batch;
	/* One transaction: the ban's dislike goes with the ban. */
	s->in_batch = true;
	const char *p[] = { uri };
	int n = 0;
	bool ok = change(s, "UPDATE tracks SET banned = 0 WHERE uri = ?1"
			 " AND banned", p, 1, &n, "unban") &&
		  change(s, "UPDATE events SET label = -1 WHERE uri = ?1"
			 " AND kind = 5", p, 1, NULL, "unban");
	s->in_batch = was_batch;
	if (!ok) {
		rollback(s);
		return false;
	}
	if (changed)
		*changed = n;
	return commit(s, "unban");
}

bool store_unlike(struct store *s, const char *uri, int *changed)
{
	assert(s && uri);
	const char *p[] = { uri };
	return change(s, "UPDATE events SET label = -1 WHERE uri = ?1"
		      " AND label = 1", p, 1, changed, "unlike");
}

/* --- the reserve -------------------------------------------------------- */

/* mpdrec.reserve: space set aside in advance for events SQLite could not
 * commit (a full disk). Writing into it overwrites blocks that are already
 * allocated (the file is filled with zeros when it is made), so it works
 * when nothing else can be written. Two slots, each a header and the
 * events: a write goes to the older slot with the next sequence number and
 * a checksum, so a write torn by a crash leaves the other slot (the state
 * before) readable. Copy-on-write filesystems (btrfs, ZFS) allocate on
 * every write: there the reserve helps only as far as their own reserve
 * does. */

#define RESERVE_FILE "mpdrec.reserve"
#define RESERVE_MAGIC "MPDRECRS"
#define RESERVE_VERSION 1u
/* magic 8, version 4, count 4, sequence 8, length 4, spare 4, sum 8 */
#define RESERVE_HEAD 40
#define RESERVE_MIN 4096

static void put_u16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	put_u16(p, v & 0xffff);
	put_u16(p + 2, v >> 16);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	put_u64(p, u);
}

static uint32_t get_u16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const unsigned char *p)
{
	return get_u16(p) | get_u16(p + 2) << 16;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static double get_f64(const unsigned char *p)
{
	uint64_t u = get_u64(p);
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

/* One event: time, played, duration, weight (f64), kind, label (i32),
 * queued (u8), the URI's and the source's lengths (u16), then both. */
#define RECORD_FIXED (4 * 8 + 2 * 4 + 1 + 2 * 2)

static size_t slot_size(const struct store *s)
{
	return s->reserve_size / 2 / 8 * 8;
}

/* The checksum covers version, count, sequence, length and the events. */
static uint64_t slot_sum(const unsigned char *slot, size_t len)
{
	uint64_t h = fnv1a64(slot + 8, 24);
	uint64_t t = fnv1a64(slot + RESERVE_HEAD, len);
	return h ^ (t * 0x9e3779b97f4a7c15ull);
}

/* Reads slot k into buf (slot_size bytes); returns its sequence number
 * when it is valid, else 0 (sequence numbers start at 1). */
static uint64_t read_slot(struct store *s, int k, unsigned char *buf)
{
	size_t size = slot_size(s);
	ssize_t got = pread(s->reserve_fd, buf, size, (off_t)(k * size));
	if (got != (ssize_t)size || memcmp(buf, RESERVE_MAGIC, 8) != 0 ||
	    get_u32(buf + 8) != RESERVE_VERSION)
		return 0;
	uint32_t len = get_u32(buf + 24);
	if (len > size - RESERVE_HEAD ||
	    get_u64(buf + 32) != slot_sum(buf, len))
		return 0;
	return get_u64(buf + 16);
}

bool store_reserve(struct store *s, size_t bytes)
{
	assert(s && s->reserve_fd < 0);
	if (bytes < RESERVE_MIN)
		bytes = RESERVE_MIN;
	char path[4200];
	size_t dir = strlen(s->path) - strlen(STORE_FILE);
	snprintf(path, sizeof path, "%.*s%s", (int)dir, s->path, RESERVE_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fail(s, "reserve %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	/* Zeros written, not a hole: the blocks are the file's from now on. */
	static const unsigned char zeros[4096];
	off_t at = st.st_size;
	while ((size_t)at < bytes) {
		size_t n = bytes - (size_t)at < sizeof zeros ?
			   bytes - (size_t)at : sizeof zeros;
		ssize_t w = pwrite(fd, zeros, n, at);
		if (w <= 0)
			break;
		at += w;
	}
	if ((size_t)at < bytes || fsync(fd) != 0) {
		int e = errno;
		/* A partial reserve is kept only if it was there before. */
		if (st.st_size < RESERVE_MIN) {
			if (ftruncate(fd, st.st_size) != 0)
				e = errno;
			close(fd);
			return fail(s, "reserve %s: cannot set %zu bytes "
				    "aside: %s", path, bytes, strerror(e));
		}
		at = st.st_size;
	}
	s->reserve_fd = fd;
	s->reserve_size = (size_t)at;
	s->reserve_seq = 0;
	unsigned char *buf = malloc(slot_size(s));
	if (!buf)
		return fail(s, "reserve: out of memory");
	for (int k = 0; k < 2; k++) {
		uint64_t seq = read_slot(s, k, buf);
		if (seq > s->reserve_seq)
			s->reserve_seq = seq;
	}
	free(buf);
	return true;
}

bool store_reserve_write(struct store *s, const struct store_event *e, int n,
			 int *kept)
{
	assert(s && (e || n == 0));
	if (kept)
		*kept = 0;
	if (s->reserve_fd < 0)
		return fail(s, "reserve: none was set aside");
	size_t size = slot_size(s);
	unsigned char *slot = calloc(1, size);
	if (!slot)
		return fail(s, "reserve: out of memory");
	size_t len = 0;
	int count = 0;
	for (; count < n; count++) {
		const struct store_event *x = &e[count];
		const char *src = x->source ? x->source : "";
		size_t ul = strlen(x->uri), sl = strlen(src);
		if (ul > 0xffff || sl > 0xffff ||
		    RESERVE_HEAD + len + RECORD_FIXED + ul + sl > size)
			break;
		unsigned char *p = slot + RESERVE_HEAD + len;
		put_f64(p, x->time);
		put_f64(p + 8, x->played);
		put_f64(p + 16, x->duration);
		put_f64(p + 24, x->weight);
		put_u32(p + 32, (uint32_t)x->kind);
		put_u32(p + 36, (uint32_t)x->label);
		p[40] = x->queued_by_us;
		put_u16(p + 41, (uint32_t)ul);
		put_u16(p + 43, (uint32_t)sl);
		memcpy(p + RECORD_FIXED, x->uri, ul);
		memcpy(p + RECORD_FIXED + ul, src, sl);
		len += RECORD_FIXED + ul + sl;
	}
	uint64_t seq = s->reserve_seq + 1;
	memcpy(slot, RESERVE_MAGIC, 8);
	put_u32(slot + 8, RESERVE_VERSION);
	put_u32(slot + 12, (uint32_t)count);
	put_u64(slot + 16, seq);
	put_u32(slot + 24, (uint32_t)len);
	put_u64(slot + 32, slot_sum(slot, len));
	/* The slot the newest state is not in. */
	off_t at = (off_t)(seq % 2 * size);
	ssize_t w = pwrite(s->reserve_fd, slot, RESERVE_HEAD + len, at);
	free(slot);
	if (w != (ssize_t)(RESERVE_HEAD + len) || fdatasync(s->reserve_fd)) {
		return fail(s, "reserve: cannot write: %s",
			    w < 0 ? strerror(errno) : "short write");
	}
	s->reserve_seq = seq;
	if (kept)
		*kept = count;
	return true;
}

void store_reserve_free(struct store_event *e, int n)
{
	for (int i = 0; e && i < n; i++) {
		free((char *)e[i].uri);
		free((char *)e[i].source);
	}
	free(e);
}

bool store_reserve_read(struct store *s, struct store_event **out, int *n)
{
	assert(s && out && n);
	*out = NULL;
	*n = 0;
	if (s->reserve_fd < 0)
		return fail(s, "reserve: none was set aside");
	size_t size = slot_size(s);
	unsigned char *buf[2] = { malloc(size), malloc(size) };
	uint64_t seq[2] = { 0, 0 };
	bool ok = buf[0] && buf[1];
	for (int k = 0; ok && k < 2; k++)
		seq[k] = read_slot(s, k, buf[k]);
	int k = seq[1] > seq[0];
	uint32_t count = ok && seq[k] ? get_u32(buf[k] + 12) : 0;
	uint32_t len = count ? get_u32(buf[k] + 24) : 0;
	struct store_event *v = count ? calloc(count, sizeof *v) : NULL;
	if (count && !v)
		ok = false;
	size_t at = 0;
	uint32_t i;
	for (i = 0; ok && i < count; i++) {
		const unsigned char *p = buf[k] + RESERVE_HEAD + at;
		if (at + RECORD_FIXED > len)
			break;
		size_t ul = get_u16(p + 41), sl = get_u16(p + 43);
		if (at + RECORD_FIXED + ul + sl > len)
			break;
		v[i] = (struct store_event){
			.time = get_f64(p),
			.played = get_f64(p + 8),
			.duration = get_f64(p + 16),
			.weight = get_f64(p + 24),
			.kind = (enum store_kind)get_u32(p + 32),
			.label = (int)get_u32(p + 36),
			.queued_by_us = p[40] != 0,
			.uri = strndup((const char *)p + RECORD_FIXED, ul),
			.source = strndup((const char *)p + RECORD_FIXED + ul,
					  sl),
		};
		if (!v[i].uri || !v[i].source) {
			i++;
			ok = false;
		}
		at += RECORD_FIXED + ul + sl;
	}
	free(buf[0]);
	free(buf[1]);
	if (!ok) {
		store_reserve_free(v, (int)i);
		return fail(s, "reserve: out of memory");
	}
	*out = v;
	*n = (int)i;
	return true;
}

bool store_has_event(struct store *s, const struct store_event *e, bool *has)
{
	assert(s && e && e->uri && has);
	sqlite3_stmt *st = stmt(s, ST_HAS_EVENT, "look an event up");
	if (!st)
		return false;
	sqlite3_bind_double(st, 1, e->time);
	sqlite3_bind_text(st, 2, e->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)e->kind);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		fail_db(s, "look an event up");
		sqlite3_reset(st);
		return false;
	}
	*has = rc == SQLITE_ROW;
	sqlite3_reset(st);
	return true;
}

/* --- tags for the queue filler ------------------------------------------ */

bool store_each_track_tags(struct store *s, int version, int dim,
			   bool (*fn)(const char *uri, const char *artist,
				      const char *album, const char *genre,
				      void *ctx),
			   void *ctx)
{
	assert(s && fn && dim > 0);
	sqlite3_stmt *st = stmt(s, ST_TRACK_TAGS, "track tags");
	if (!st)
		return false;
	sqlite3_bind_int(st, 1, version);
	sqlite3_bind_int(st, 2, dim);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t[4];
		for (int k = 0; k < 4; k++) {
			t[k] = (const char *)sqlite3_column_text(st, k);
			if (t[k] && !*t[k])
				t[k] = NULL;
		}
		if (t[0] && !fn(t[0], t[1], t[2], t[3], ctx)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	bool ok = rc == SQLITE_DONE;
	if (!ok)
		fail_db(s, "track tags");
	sqlite3_reset(st);
	return ok;
}
