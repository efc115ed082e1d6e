/* mpdrec.conf: one table of options (name, type, default, bounds, help),
 * loaded with libconfig. Never prints, never exits: errors come back as text
 * the caller shows ("file:line: option: what is wrong (expected ...)").
 */
#ifndef MPDREC_CONF_H
#define MPDREC_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_MAX_HIDDEN 4
#define CONF_ERR_SIZE 512

/** Where an option's effective value came from. */
enum conf_source {
	CONF_SOURCE_DEFAULT,
	CONF_SOURCE_FILE,
	CONF_SOURCE_ENV,
	CONF_SOURCE_COMMAND_LINE,	/* e.g. -v: log.level debug */
};

/** The fields a queue.include / queue.exclude rule can test: "path:GLOB",
 *  "artist:GLOB", "album:GLOB", "genre:GLOB" (fnmatch globs; tags compare
 *  without case). */
enum conf_rule_field {
	CONF_RULE_PATH,
	CONF_RULE_ARTIST,
	CONF_RULE_ALBUM,
	CONF_RULE_GENRE,
};

/** Splits a rule "field:glob" into its field and glob (borrowed from rule).
 *  Returns false when the field is not one of the above. */
bool conf_rule_parse(const char *rule, enum conf_rule_field *field,
		     const char **glob);

/** Log levels, in order of verbosity. */
enum conf_log_level {
	CONF_LOG_ERROR,
	CONF_LOG_WARNING,
	CONF_LOG_INFO,
	CONF_LOG_DEBUG,
};

/** The effective configuration. Strings are owned by the struct and freed by
 *  conf_free(); NULL means "not set" (libmpdclient's default for mpd.host,
 *  no password). Paths have `~` expanded. */
struct conf {
	struct {
		char *host;		/* NULL: $MPD_HOST, else libmpdclient's */
		unsigned port;		/* 0: $MPD_PORT, else libmpdclient's */
		char *password;
		unsigned timeout_ms;
	} mpd;
	char *music_directory;		/* NULL: not analysing files */
	char *data_directory;		/* default $XDG_DATA_HOME/mpdrec */
	struct {
		int ahead;
		double explore_rate;
		double history_hours;
		int artist_spacing;
		double settle_ms;
		int keep_played;	/* -1: keep every played song */
		char **include;		/* rules "field:glob", n_include */
		int n_include;
		char **exclude;
		int n_exclude;
	} queue;
	struct {
		double end_margin;
		double min_duration;
		bool stickers;
	} feedback;
	struct {
		int hidden[CONF_MAX_HIDDEN];
		int n_hidden;
		int bins;
		double learning_rate;
		double l2;
		int ensemble;
		int steps_per_event;
		int batch;
		double half_life_days;
		int retrain_every;
		unsigned seed;
	} model;
	struct {
		int jobs;		/* 0: one per core */
		double max_seconds;
	} analysis;
	struct {
		enum conf_log_level level;
		char *file;		/* NULL: stderr */
	} log;

	char *path;			/* the file loaded, or NULL */
	/* Source of each option, indexed like the option table. */
	unsigned char source[64];
	/* Warnings that do not refuse the file (unknown keys), one per line,
	 * "file:line: unknown option 'x'" (the reader adds "warning"); NULL
	 * when none. Lines
	 * are separated by '\n', with none after the last. */
	char *warnings;
};

/** Fills *c with the built-in defaults (reads $XDG_DATA_HOME / $HOME for
 *  data_directory). Free with conf_free(). Returns false only when out of
 *  memory. */
bool conf_defaults(struct conf *c);

/** Releases every string of *c; leaves it zeroed. Accepts a zeroed struct. */
void conf_free(struct conf *c);

/** Fills *dst with a deep copy of *src (every value and its source, the
 *  path and the warnings), which the caller frees with conf_free(). Returns
 *  false when out of memory (*dst is then zeroed). */
bool conf_copy(struct conf *dst, const struct conf *src);

/** Finds the file to load, in DESIGN.md's order: explicit (if not NULL),
 *  $XDG_CONFIG_HOME/mpdrec/mpdrec.conf (else ~/.config/mpdrec/mpdrec.conf),
 *  /etc/mpdrec.conf. Returns a newly allocated path the caller frees, or NULL
 *  when no file exists (use the defaults). An explicit path is returned even
 *  if it does not exist, so loading it reports the error. */
char *conf_find(const char *explicit_path);

/** Loads `path` over the defaults into *c (which conf_load fills; the caller
 *  frees it with conf_free() whatever the result). On failure returns false,
 *  writes "file:line: option: what is wrong (expected ...)" into err, and
 *  leaves *c zeroed. An unknown group, or an unknown name at the top
 *  of the file that is close to a known option (music_dir), is an error:
 *  it would leave a feature silently off. Other unknown keys are not
 *  errors: see c->warnings. */
bool conf_load(struct conf *c, const char *path, char *err, size_t err_size);

/** Applies MPD_HOST ("host", "password@host", "/socket", "@abstract") and
 *  MPD_PORT where the file did not set mpd.host / mpd.port, as mpc does.
 *  Values are passed in so the caller decides where they come from (NULL =
 *  unset). Returns false and fills err for a bad MPD_PORT. */
bool conf_apply_env(struct conf *c, const char *mpd_host, const char *mpd_port,
		    char *err, size_t err_size);

/** Number of options in the table (for check-config). */
size_t conf_option_count(void);

/** Describes option i of the table for *c: its dotted name (borrowed, static),
 *  its one-line help (borrowed, static), its effective value written into
 *  value (the password as "(set)"/"(unset)", never the text), and where it
 *  came from. Returns false when i is out of range. */
bool conf_option_describe(const struct conf *c, size_t i, const char **name,
			  const char **help, char *value, size_t value_size,
			  enum conf_source *source);

/** Index of the option named `name` ("queue.ahead") in the table, for
 *  c->source[] and conf_option_describe(); -1 when there is none. */
int conf_option_index(const char *name);

/** The bounds of option i, inclusive, when it is a number (for model.hidden:
 *  of each layer's size); *integer tells whether it takes integers only.
 *  Returns false for other options and when i is out of range. */
bool conf_option_bounds(size_t i, double *min, double *max, bool *integer);

/** Whether option i has the same value in *a and *b (strings compared by
 *  content, NULL equal to NULL). False when i is out of range. */
bool conf_option_equal(const struct conf *a, const struct conf *b, size_t i);

/** Whether a reload (SIGHUP) applies option i to a running daemon; false:
 *  it takes effect at the next start (the table's "when" column), and false
 *  when i is out of range. */
bool conf_option_live(size_t i);

/** Copies option i's value and source from *src into *dst (a string is
 *  duplicated, dst's old one freed): a reload keeps the running value of
 *  an option it does not apply. Returns false when out of memory or i is
 *  out of range (dst unchanged). */
bool conf_option_copy(struct conf *dst, const struct conf *src, size_t i);

/** Returns the name of a source: "default", "file", "environment",
 *  "command line". */
const char *conf_source_name(enum conf_source s);

#endif
