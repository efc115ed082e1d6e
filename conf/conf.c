/* mpdrec.conf: one static table of options walked by everything here —
 * defaults, loading, description and the tests. libconfig parses the file;
 * this module checks each value against its table entry and reports the
 * first problem as "file:line: option: what is wrong (expected ...)".
 */
#include "conf/conf.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

enum opt_type {
	OPT_INT,
	OPT_UNSIGNED,
	OPT_DOUBLE,
	OPT_BOOL,
	OPT_STRING,
	OPT_PATH,
	OPT_INT_LIST,	/* model.hidden: int array + int count */
	OPT_LEVEL,	/* enum conf_log_level, written as its name */
	OPT_RULES,	/* queue.include/exclude: char ** + int count */
};

/* When a changed value takes effect in a running daemon. */
enum opt_when {
	RELOAD,		/* at the reload (SIGHUP) */
	RESTART,	/* at the next start; a reload keeps the old value */
};

struct option {
	const char *name;	/* dotted: "group.key" or "key" */
	enum opt_type type;
	size_t offset;		/* of the target field in struct conf */
	size_t count_offset;	/* OPT_INT_LIST, OPT_RULES: the int holding
				   the length */
	double def;		/* numbers, bools, levels */
	const char *def_str;	/* strings and paths; NULL: unset */
	char *(*def_fn)(void);	/* a default computed at run time */
	int def_list[CONF_MAX_HIDDEN];
	int def_count;
	double min, max;	/* bounds of the value (list: of each element) */
	bool tilde;		/* OPT_STRING: expand a leading "~/" too */
	enum opt_when when;	/* whether a reload (SIGHUP) applies it */
	const char *help;
};

static char *default_data_directory(void);

#define AT(field) offsetof(struct conf, field)
#define NUM(n, t, field, d, lo, hi, w, h)                                     \
	{ .name = n, .type = t, .offset = AT(field), .def = d, .min = lo,     \
	  .max = hi, .when = w, .help = h }
#define STR(n, t, field, d, w, h)                                             \
	{ .name = n, .type = t, .offset = AT(field), .def_str = d, .when = w, \
	  .help = h }

/* The "when" column: RELOAD options reach the running parts at a SIGHUP
 * (the MPD link reconnects, the filler, learner, watcher and log take the
 * new value, the next scan pass reads it); RESTART ones take effect at the
 * next start, and a reload says so and keeps the old value. */
static const struct option options[] = {
	{ .name = "mpd.host", .type = OPT_STRING, .offset = AT(mpd.host),
	  .tilde = true, .when = RELOAD,
	  .help = "MPD host name, socket path or @abstract socket "
		  "(unset: $MPD_HOST, else libmpdclient's default)" },
	NUM("mpd.port", OPT_UNSIGNED, mpd.port, 0, 0, 65535, RELOAD,
	    "MPD TCP port (0: $MPD_PORT, else libmpdclient's default)"),
	STR("mpd.password", OPT_STRING, mpd.password, NULL, RELOAD,
	    "MPD password (unset: from MPD_HOST's password@host, else none)"),
	NUM("mpd.timeout_ms", OPT_UNSIGNED, mpd.timeout_ms, 30000, 100,
	    600000, RELOAD, "timeout of one MPD request, in milliseconds"),
	STR("music_directory", OPT_PATH, music_directory, NULL, RELOAD,
	    "MPD's music directory, to analyse files (unset: no analysis)"),
	{ .name = "data_directory", .type = OPT_PATH,
	  .offset = AT(data_directory), .def_fn = default_data_directory,
	  .when = RESTART,
	  .help = "where the database lives "
		  "(default: $XDG_DATA_HOME/mpdrec, else ~/.local/share/mpdrec)" },
	NUM("queue.ahead", OPT_INT, queue.ahead, 2, 1, 100, RELOAD,
	    "songs to keep queued after the current one"),
	NUM("queue.explore_rate", OPT_DOUBLE, queue.explore_rate, 0.15, 0, 1,
	    RELOAD, "probability that a pick explores instead of exploiting"),
	NUM("queue.history_hours", OPT_DOUBLE, queue.history_hours, 24, 0,
	    8760, RELOAD, "prefer songs not played within this many hours"),
	NUM("queue.artist_spacing", OPT_INT, queue.artist_spacing, 3, 0, 100,
	    RELOAD, "do not pick an artist among the last this many songs"),
	NUM("queue.settle_ms", OPT_DOUBLE, queue.settle_ms, 500, 0, 60000,
	    RELOAD,
	    "wait this long after a queue change before filling, in ms"),
	NUM("queue.keep_played", OPT_INT, queue.keep_played, 20, -1, 100000,
	    RELOAD, "played songs kept before the current one; older ones "
	    "are cropped (-1: keep all)"),
	{ .name = "queue.include", .type = OPT_RULES,
	  .offset = AT(queue.include), .count_offset = AT(queue.n_include),
	  .when = RELOAD,
	  .help = "pick only songs matching one of these rules "
		  "(\"path:GLOB\", \"artist:GLOB\", \"album:GLOB\", "
		  "\"genre:GLOB\"; empty: any)" },
	{ .name = "queue.exclude", .type = OPT_RULES,
	  .offset = AT(queue.exclude), .count_offset = AT(queue.n_exclude),
	  .when = RELOAD,
	  .help = "never pick songs matching one of these rules" },
	NUM("feedback.end_margin", OPT_DOUBLE, feedback.end_margin, 10, 0, 600,
	    RELOAD, "seconds before the end (at most a tenth) that still count "
	    "as played"),
	NUM("feedback.min_duration", OPT_DOUBLE, feedback.min_duration, 30, 0,
	    3600, RELOAD,
	    "songs shorter than this many seconds are not labelled"),
	NUM("feedback.stickers", OPT_BOOL, feedback.stickers, 0, 0, 1, RELOAD,
	    "read myMPD's like/rating stickers as feedback; write each "
	    "track's score to mpdrec_score"),
	{ .name = "model.hidden", .type = OPT_INT_LIST,
	  .offset = AT(model.hidden), .count_offset = AT(model.n_hidden),
	  .def_list = { 64, 32 }, .def_count = 2, .min = 1, .max = 1024,
	  .when = RELOAD,
	  .help = "sizes of the hidden layers, input side first" },
	NUM("model.bins", OPT_INT, model.bins, 8, 1, 64, RELOAD,
	    "piecewise-linear bins per feature in the first layer (1: plain)"),
	NUM("model.learning_rate", OPT_DOUBLE, model.learning_rate, 0.001, 1e-6,
	    1, RELOAD, "Adam's learning rate"),
	NUM("model.l2", OPT_DOUBLE, model.l2, 1e-3, 0, 1, RELOAD,
	    "L2 weight decay"),
	NUM("model.ensemble", OPT_INT, model.ensemble, 5, 1, 32, RELOAD,
	    "number of nets in the ensemble"),
	NUM("model.steps_per_event", OPT_INT, model.steps_per_event, 4, 1,
	    1000, RELOAD, "Adam steps after each labelled event"),
	NUM("model.batch", OPT_INT, model.batch, 64, 1, 4096, RELOAD,
	    "events per training batch (new event plus replay)"),
	NUM("model.half_life_days", OPT_DOUBLE, model.half_life_days, 30, 0.1,
	    3650, RELOAD, "age in days at which a replayed event weighs half"),
	NUM("model.retrain_every", OPT_INT, model.retrain_every, 200, 1,
	    1000000, RELOAD, "labelled events between full retrains"),
	NUM("model.seed", OPT_UNSIGNED, model.seed, 1, 0, 2147483647, RELOAD,
	    "random seed (weights, bootstraps, sampling)"),
	NUM("analysis.jobs", OPT_INT, analysis.jobs, 0, 0, 256, RELOAD,
	    "analysis threads (0: one per core)"),
	NUM("analysis.max_seconds", OPT_DOUBLE, analysis.max_seconds, 120, 5,
	    36000, RELOAD,
	    "seconds of audio analysed per track (long ones: excerpts)"),
	NUM("log.level", OPT_LEVEL, log.level, CONF_LOG_INFO, CONF_LOG_ERROR,
	    CONF_LOG_DEBUG, RELOAD, "error, warning, info or debug"),
	STR("log.file", OPT_PATH, log.file, NULL, RELOAD,
	    "append the log to this file (unset: stderr)"),
};

#define N_OPTIONS (sizeof options / sizeof options[0])
_Static_assert(N_OPTIONS <= sizeof(((struct conf *)0)->source),
	       "struct conf's source[] is too small for the option table");

static const char *const level_names[] = { "error", "warning", "info",
					   "debug" };

/* ---- small helpers ---- */

static void *field(struct conf *c, const struct option *o)
{
	return (char *)c + o->offset;
}

static const void *cfield(const struct conf *c, const struct option *o)
{
	return (const char *)c + o->offset;
}

static bool is_text(const struct option *o)
{
	return o->type == OPT_STRING || o->type == OPT_PATH;
}

static bool is_integer(const struct option *o)
{
	return o->type == OPT_INT || o->type == OPT_UNSIGNED ||
	       o->type == OPT_INT_LIST;
}

static const char *leaf(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

static int find_option(const char *name)
{
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Is `name` the group part of some option ("queue" for queue.ahead)? */
static bool is_group_name(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (strncmp(options[i].name, name, n) == 0 &&
		    options[i].name[n] == '.')
			return true;
	return false;
}

/* An absolute $var, or NULL: the XDG spec says relative ones are ignored. */
static const char *absolute_env(const char *var)
{
	const char *v = getenv(var);
	return v && v[0] == '/' ? v : NULL;
}

static const char *home_dir(void)
{
	const char *h = absolute_env("HOME");
	if (h)
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

static char *join(const char *a, const char *b)
{
	char *s;
	return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

static char *default_data_directory(void)
{
	const char *xdg = absolute_env("XDG_DATA_HOME");
	if (xdg)
		return join(xdg, "/mpdrec");
	const char *home = home_dir();
	return home ? join(home, "/.local/share/mpdrec") : NULL;
}

/* Expands a leading "~" or "~/" into *out (malloc'd). Returns NULL on
 * success, else the reason. Other paths must be absolute when `absolute`. */
static const char *expand_path(const char *in, bool absolute, char **out)
{
	*out = NULL;
	if (in[0] == '~' && (in[1] == '\0' || in[1] == '/')) {
		const char *home = home_dir();
		if (!home)
			return "cannot expand ~: no home directory";
		*out = join(home, in + 1);
	} else if (absolute && in[0] == '~') {
		return "~user is not supported";
	} else if (absolute && in[0] != '/') {
		return "relative path";
	} else {
		*out = strdup(in);
	}
	return *out ? NULL : "out of memory";
}

/* Optimal string alignment distance (Levenshtein plus transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* Writes name without '_' and '-', in lower case, into buf. */
static void squeeze(const char *name, char *buf, size_t size)
{
	size_t n = 0;
	for (; *name && n + 1 < size; name++)
		if (*name != '_' && *name != '-')
			buf[n++] = (char)tolower((unsigned char)*name);
	buf[n] = '\0';
}

/* The option whose leaf the unknown name's leaf shortens or lengthens
 * ("music_dir", "musicdirectory" -> music_directory), at least 5 letters
 * alike; NULL when none or more than one. */
static const char *abbreviation_of(const char *unknown)
{
	char u[128], o[128];
	squeeze(leaf(unknown), u, sizeof u);
	size_t nu = strlen(u);
	if (nu < 5)
		return NULL;
	const char *hit = NULL;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		squeeze(leaf(options[i].name), o, sizeof o);
		size_t no = strlen(o);
		size_t k = nu < no ? nu : no;
		if (strncmp(u, o, k) != 0)
			continue;
		if (hit)
			return NULL;
		hit = options[i].name;
	}
	return hit;
}

/* The known option (or group) closest to an unknown name, or NULL when
 * none is close: the same key in another group ("ahead" -> queue.ahead), or
 * a couple of typos away. Returns a static name, or a group name in buf. */
static const char *suggest(const char *unknown, bool group, char *buf,
			   size_t size)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *name = options[i].name;
		size_t d;
		if (group) {
			const char *dot = strchr(name, '.');
			char g[64];
			if (!dot || (size_t)(dot - name) >= sizeof g)
				continue;
			snprintf(g, sizeof g, "%.*s", (int)(dot - name), name);
			d = edit_distance(unknown, g);
		} else {
			d = edit_distance(unknown, name);
			size_t dl = edit_distance(leaf(unknown), leaf(name));
			if (dl < d)
				d = dl;
		}
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	/* A shortened name ("music_dir" for music_directory, "dir" not):
	 * compared without '_' and case, one a prefix of the other. */
	if (!best || best_d > 2 || 2 * best_d > strlen(leaf(unknown))) {
		best = group ? NULL : abbreviation_of(unknown);
		if (!best)
			return NULL;
		best_d = 0;
	}
	if (!group)
		return best;
	snprintf(buf, size, "%.*s", (int)(strchr(best, '.') - best), best);
	return buf;
}

/* ---- defaults and freeing ---- */

static void free_rules(struct conf *c, const struct option *o)
{
	char ***v = field(c, o);
	int *n = (int *)((char *)c + o->count_offset);
	for (int k = 0; k < *n; k++)
		free((*v)[k]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static bool set_default(struct conf *c, size_t i)
{
	const struct option *o = &options[i];
	void *p = field(c, o);
	c->source[i] = CONF_SOURCE_DEFAULT;
	switch (o->type) {
	case OPT_INT:
		*(int *)p = (int)o->def;
		break;
	case OPT_UNSIGNED:
		*(unsigned *)p = (unsigned)o->def;
		break;
	case OPT_DOUBLE:
		*(double *)p = o->def;
		break;
	case OPT_BOOL:
		*(bool *)p = o->def != 0;
		break;
	case OPT_LEVEL:
		*(enum conf_log_level *)p = (enum conf_log_level)o->def;
		break;
	case OPT_INT_LIST:
		memcpy(p, o->def_list, sizeof o->def_list);
		*(int *)((char *)c + o->count_offset) = o->def_count;
		break;
	case OPT_RULES:
		free_rules(c, o);
		break;
	case OPT_STRING:
	case OPT_PATH: {
		char **s = p;
		free(*s);
		*s = NULL;
		if (o->def_fn) {
			/* NULL from def_fn without ENOMEM: no home at all. */
			errno = 0;
			*s = o->def_fn();
			if (!*s && errno == ENOMEM)
				return false;
		} else if (o->def_str && !(*s = strdup(o->def_str))) {
			return false;
		}
		break;
	}
	}
	return true;
}

bool conf_defaults(struct conf *c)
{
	assert(c);
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (!set_default(c, i)) {
			conf_free(c);
			return false;
		}
	}
	return true;
}

void conf_free(struct conf *c)
{
	assert(c);
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (is_text(&options[i]))
			free(*(char **)field(c, &options[i]));
		else if (options[i].type == OPT_RULES)
			free_rules(c, &options[i]);
	}
	free(c->path);
	free(c->warnings);
	memset(c, 0, sizeof *c);
}

/* The size of a number's field (int, unsigned, double, bool, level); 0
 * for a list or text. */
static size_t scalar_size(const struct option *o)
{
	switch (o->type) {
	case OPT_INT:
		return sizeof(int);
	case OPT_UNSIGNED:
		return sizeof(unsigned);
	case OPT_DOUBLE:
		return sizeof(double);
	case OPT_BOOL:
		return sizeof(bool);
	case OPT_LEVEL:
		return sizeof(enum conf_log_level);
	case OPT_INT_LIST:
	case OPT_STRING:
	case OPT_PATH:
	case OPT_RULES:
		break;
	}
	return 0;
}

/* Copies option i's value from src into dst, strings duplicated (dst's
 * old string freed). Returns false when out of memory (dst unchanged). */
static bool copy_value(struct conf *dst, const struct conf *src, size_t i)
{
	const struct option *o = &options[i];
	void *d = field(dst, o);
	const void *v = cfield(src, o);
	switch (o->type) {
	case OPT_INT:
	case OPT_UNSIGNED:
	case OPT_DOUBLE:
	case OPT_BOOL:
	case OPT_LEVEL:
		memcpy(d, v, scalar_size(o));
		break;
	case OPT_INT_LIST:
		memcpy(d, v, sizeof o->def_list);
		*(int *)((char *)dst + o->count_offset) =
			*(const int *)((const char *)src + o->count_offset);
		break;
	case OPT_STRING:
	case OPT_PATH: {
		const char *from = *(char *const *)v;
		char *x = NULL;
		if (from && !(x = strdup(from)))
			return false;
		free(*(char **)d);
		*(char **)d = x;
		break;
	}
	case OPT_RULES: {
		char *const *from = *(char **const *)v;
		int n = *(const int *)((const char *)src + o->count_offset);
		char **x = calloc((size_t)(n ? n : 1), sizeof *x);
		for (int k = 0; x && k < n; k++)
			if (!(x[k] = strdup(from[k]))) {
				while (k-- > 0)
					free(x[k]);
				free(x);
				x = NULL;
			}
		if (!x)
			return false;
		free_rules(dst, o);
		*(char ***)d = x;
		*(int *)((char *)dst + o->count_offset) = n;
		break;
	}
	}
	dst->source[i] = src->source[i];
	return true;
}

bool conf_copy(struct conf *dst, const struct conf *src)
{
	assert(dst && src);
	memset(dst, 0, sizeof *dst);
	for (size_t i = 0; i < N_OPTIONS; i++)
		if (!copy_value(dst, src, i))
			goto oom;
	if ((src->path && !(dst->path = strdup(src->path))) ||
	    (src->warnings && !(dst->warnings = strdup(src->warnings))))
		goto oom;
	return true;
oom:
	conf_free(dst);
	return false;
}

bool conf_option_copy(struct conf *dst, const struct conf *src, size_t i)
{
	assert(dst && src);
	return i < N_OPTIONS && copy_value(dst, src, i);
}

bool conf_option_live(size_t i)
{
	return i < N_OPTIONS && options[i].when == RELOAD;
}

/* ---- finding the file ---- */

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *conf_find(const char *explicit_path)
{
	if (explicit_path)
		return strdup(explicit_path);
	char *p = NULL;
	const char *xdg = absolute_env("XDG_CONFIG_HOME");
	const char *home = home_dir();
	if (xdg)
		p = join(xdg, "/mpdrec/mpdrec.conf");
	else if (home)
		p = join(home, "/.config/mpdrec/mpdrec.conf");
	if (p && exists(p))
		return p;
	free(p);
	if (exists("/etc/mpdrec.conf"))
		return strdup("/etc/mpdrec.conf");
	return NULL;
}

/* ---- loading ---- */

struct loader {
	struct conf *c;
	const char *path;	/* the file given to conf_load */
	char *err;
	size_t err_size;
	bool oom;
};

static const char *setting_file(const struct loader *l,
				const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);
	return f ? f : l->path;
}

static void describe_expected(const struct option *o, char *buf, size_t n)
{
	switch (o->type) {
	case OPT_INT:
	case OPT_UNSIGNED:
		snprintf(buf, n, "an integer from %.0f to %.0f", o->min,
			 o->max);
		break;
	case OPT_DOUBLE:
		snprintf(buf, n, "a number from %.10g to %.10g", o->min,
			 o->max);
		break;
	case OPT_BOOL:
		snprintf(buf, n, "true or false");
		break;
	case OPT_STRING:
		snprintf(buf, n, "a non-empty string in double quotes");
		break;
	case OPT_PATH:
		snprintf(buf, n, "an absolute path or one starting with ~/, "
				 "in double quotes");
		break;
	case OPT_INT_LIST:
		snprintf(buf, n, "an array of 1 to %d integers from %.0f to "
				 "%.0f, like [64, 32]",
			 CONF_MAX_HIDDEN, o->min, o->max);
		break;
	case OPT_LEVEL:
		snprintf(buf, n, "one of \"error\", \"warning\", \"info\", "
				 "\"debug\"");
		break;
	case OPT_RULES:
		snprintf(buf, n, "a list of strings \"FIELD:GLOB\", FIELD one "
				 "of path, artist, album, genre, like "
				 "[\"genre:*Rock*\", \"path:Jazz/*\"]");
		break;
	}
}

/* Writes "file:line: option: <what> (expected ...)" and returns false. */
__attribute__((format(printf, 4, 5)))
static bool fail(struct loader *l, const config_setting_t *s,
		 const struct option *o, const char *fmt, ...)
{
	char what[256], expected[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	describe_expected(o, expected, sizeof expected);
	snprintf(l->err, l->err_size, "%s:%u: %s: %s (expected %s)",
		 setting_file(l, s), config_setting_source_line(s), o->name,
		 what, expected);
	return false;
}

static const char *kind_of(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number with a fraction";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "an unknown kind of value";
}

static bool is_int_setting(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

static bool wrong_type(struct loader *l, const config_setting_t *s,
		       const struct option *o)
{
	return fail(l, s, o, "wrong type, got %s", kind_of(s));
}

static bool load_list(struct loader *l, const config_setting_t *s,
		      const struct option *o, int *out, int *count)
{
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return wrong_type(l, s, o);
	int n = config_setting_length(s);
	if (n < 1 || n > CONF_MAX_HIDDEN)
		return fail(l, s, o, "%d layers is out of bounds", n);
	for (int k = 0; k < n; k++) {
		const config_setting_t *e = config_setting_get_elem(s, k);
		if (!is_int_setting(e))
			return fail(l, e, o, "wrong type, layer %d is %s",
				     k + 1, kind_of(e));
		long long v = config_setting_get_int64(e);
		if (!((double)v >= o->min && (double)v <= o->max))
			return fail(l, e, o, "layer %d: %lld is out of bounds",
				    k + 1, v);
		out[k] = (int)v;
	}
	for (int k = n; k < CONF_MAX_HIDDEN; k++)
		out[k] = 0;
	*count = n;
	return true;
}

bool conf_rule_parse(const char *rule, enum conf_rule_field *field,
		     const char **glob)
{
	static const char *const names[] = { "path", "artist", "album",
					     "genre" };
	const char *colon = strchr(rule, ':');
	if (!colon)
		return false;
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		size_t len = strlen(names[k]);
		if ((size_t)(colon - rule) == len &&
		    strncasecmp(rule, names[k], len) == 0) {
			*field = (enum conf_rule_field)k;
			*glob = colon + 1;
			return true;
		}
	}
	return false;
}

static bool load_rules(struct loader *l, const config_setting_t *s,
		       const struct option *o)
{
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return wrong_type(l, s, o);
	int n = config_setting_length(s);
	char **v = calloc((size_t)(n ? n : 1), sizeof *v);
	if (!v) {
		l->oom = true;
		return fail(l, s, o, "out of memory");
	}
	for (int k = 0; k < n; k++) {
		const config_setting_t *e = config_setting_get_elem(s, k);
		const char *t = config_setting_type(e) == CONFIG_TYPE_STRING ?
				config_setting_get_string(e) : NULL;
		enum conf_rule_field f;
		const char *glob;
		bool ok = t && conf_rule_parse(t, &f, &glob) && *glob;
		if (ok && !(v[k] = strdup(t)))
			l->oom = true;
		if (!ok || !v[k]) {
			for (int j = 0; j < k; j++)
				free(v[j]);
			free(v);
			if (!t)
				return fail(l, e, o, "wrong type, rule %d is "
					    "%s", k + 1, kind_of(e));
			return fail(l, e, o, "rule %d \"%s\" is not "
				    "FIELD:GLOB", k + 1, t);
		}
	}
	free_rules(l->c, o);
	*(char ***)field(l->c, o) = v;
	*(int *)((char *)l->c + o->count_offset) = n;
	return true;
}

static bool load_text(struct loader *l, const config_setting_t *s,
		      const struct option *o, char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return wrong_type(l, s, o);
	const char *v = config_setting_get_string(s);
	if (!v || !*v)
		return fail(l, s, o, "empty; comment the line out to leave "
				     "it unset");
	char *x;
	const char *why;
	if (o->type == OPT_PATH || o->tilde)
		why = expand_path(v, o->type == OPT_PATH, &x);
	else
		why = (x = strdup(v)) ? NULL : "out of memory";
	if (why) {
		if (!x && strcmp(why, "out of memory") == 0)
			l->oom = true;
		return fail(l, s, o, "%s \"%s\"", why, v);
	}
	free(*out);
	*out = x;
	return true;
}

/* Checks setting s against option i and stores its value. */
static bool load_option(struct loader *l, size_t i, const config_setting_t *s)
{
	const struct option *o = &options[i];
	void *p = field(l->c, o);
	double v;
	switch (o->type) {
	case OPT_INT:
	case OPT_UNSIGNED: {
		if (!is_int_setting(s))
			return wrong_type(l, s, o);
		long long n = config_setting_get_int64(s);
		if (!((double)n >= o->min && (double)n <= o->max))
			return fail(l, s, o, "%lld is out of bounds", n);
		if (o->type == OPT_INT)
			*(int *)p = (int)n;
		else
			*(unsigned *)p = (unsigned)n;
		break;
	}
	case OPT_DOUBLE:
		if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(s);
		else if (is_int_setting(s))
			v = (double)config_setting_get_int64(s);
		else
			return wrong_type(l, s, o);
		if (!(v >= o->min && v <= o->max))
			return fail(l, s, o, "%.10g is out of bounds", v);
		*(double *)p = v;
		break;
	case OPT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return wrong_type(l, s, o);
		*(bool *)p = config_setting_get_bool(s);
		break;
	case OPT_LEVEL: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return wrong_type(l, s, o);
		const char *name = config_setting_get_string(s);
		size_t k;
		for (k = 0; k < sizeof level_names / sizeof *level_names; k++)
			if (strcasecmp(name, level_names[k]) == 0)
				break;
		if (k == sizeof level_names / sizeof *level_names)
			return fail(l, s, o, "unknown level \"%s\"", name);
		*(enum conf_log_level *)p = (enum conf_log_level)k;
		break;
	}
	case OPT_INT_LIST:
		if (!load_list(l, s, o, p,
			       (int *)((char *)l->c + o->count_offset)))
			return false;
		break;
	case OPT_STRING:
	case OPT_PATH:
		if (!load_text(l, s, o, p))
			return false;
		break;
	case OPT_RULES:
		if (!load_rules(l, s, o))
			return false;
		break;
	}
	l->c->source[i] = CONF_SOURCE_FILE;
	return true;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct loader *l, const char *fmt, ...)
{
	char *line, *all;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0) {
		l->oom = true;
		return;
	}
	if (l->c->warnings) {
		r = asprintf(&all, "%s\n%s", l->c->warnings, line);
		free(line);
		if (r < 0) {
			l->oom = true;
			return;
		}
		free(l->c->warnings);
		l->c->warnings = all;
	} else {
		l->c->warnings = line;
	}
}

/* An unknown name. At the top of the file, a group or a name close to a
 * known one is an error: a misspelt group or music_directory would leave a
 * whole feature silently off (no analysis, default queue). Anything else is
 * a warning. Returns false after writing the error. */
static bool unknown_name(struct loader *l, const config_setting_t *s,
			 const char *name, bool top)
{
	bool group = config_setting_is_group(s);
	char buf[64];
	const char *hint = suggest(name, group, buf, sizeof buf);
	if (top && (group || hint)) {
		snprintf(l->err, l->err_size,
			 "%s:%u: %s: unknown %s%s%s%s; %s", setting_file(l, s),
			 config_setting_source_line(s), name,
			 group ? "group" : "option",
			 hint ? " (did you mean " : "", hint ? hint : "",
			 hint ? "?)" : "",
			 group ? "its settings would be ignored"
			       : "it would be ignored");
		return false;
	}
	warn(l, "%s:%u: unknown %s '%s'%s%s%s", setting_file(l, s),
	     config_setting_source_line(s), group ? "group" : "option", name,
	     hint ? " (did you mean " : "", hint ? hint : "", hint ? "?)" : "");
	return true;
}

/* Walks the file in its own order, so the first problem reported is the
 * first in the file. */
static bool load_settings(struct loader *l, const config_setting_t *root)
{
	int n = config_setting_length(root);
	for (int k = 0; k < n && !l->oom; k++) {
		const config_setting_t *s = config_setting_get_elem(root, k);
		const char *name = config_setting_name(s);
		int i = find_option(name);
		if (i >= 0) {
			if (!load_option(l, (size_t)i, s))
				return false;
			continue;
		}
		if (!is_group_name(name)) {
			if (!unknown_name(l, s, name, true))
				return false;
			continue;
		}
		if (!config_setting_is_group(s)) {
			snprintf(l->err, l->err_size,
				 "%s:%u: %s: wrong type, got %s (expected a "
				 "group: %s = { ... };)",
				 setting_file(l, s),
				 config_setting_source_line(s), name,
				 kind_of(s), name);
			return false;
		}
		int m = config_setting_length(s);
		for (int j = 0; j < m && !l->oom; j++) {
			const config_setting_t *e = config_setting_get_elem(s, j);
			char dotted[128];
			snprintf(dotted, sizeof dotted, "%s.%s", name,
				 config_setting_name(e));
			i = find_option(dotted);
			if (i < 0)
				unknown_name(l, e, dotted, false);
			else if (!load_option(l, (size_t)i, e))
				return false;
		}
	}
	if (l->oom)
		snprintf(l->err, l->err_size, "%s: out of memory", l->path);
	return !l->oom;
}

/* Whether line `line` of `path` gives a yes/no/on/off value, which
 * libconfig refuses as a syntax error; then writes an error that says
 * booleans are true or false. */
static bool yes_no_on_line(const char *path, int line, char *err,
			   size_t err_size)
{
	FILE *f = line > 0 ? fopen(path, "r") : NULL;
	if (!f)
		return false;
	char buf[512];
	bool found = false;
	for (int n = 1; fgets(buf, sizeof buf, f); n++) {
		if (n < line)
			continue;
		static const char *const words[] = { "yes", "no", "on", "off" };
		for (char *eq = strchr(buf, '='); eq && !found;
		     eq = strchr(eq + 1, '=')) {
			const char *v = eq + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			for (size_t k = 0; k < 4 && !found; k++) {
				size_t len = strlen(words[k]);
				if (strncasecmp(v, words[k], len) ||
				    isalnum((unsigned char)v[len]) ||
				    v[len] == '_')
					continue;
				/* the name before '=' */
				const char *e = eq;
				while (e > buf && (e[-1] == ' ' ||
						   e[-1] == '\t'))
					e--;
				const char *b = e;
				while (b > buf && (isalnum((unsigned char)b[-1])
						   || b[-1] == '_'))
					b--;
				bool truth = k == 0 || k == 2;
				snprintf(err, err_size,
					 "%s:%d: %.*s: '%.*s' is not a value "
					 "(booleans are true or false: "
					 "%.*s = %s;)",
					 path, line, (int)(e - b), b,
					 (int)len, v, (int)(e - b), b,
					 truth ? "true" : "false");
				found = true;
			}
		}
		break;
	}
	fclose(f);
	return found;
}

/* Whether a file may be read: a regular file, or /dev/null (an empty
 * file: `--config /dev/null` means "no file"). A FIFO, a socket, a tty or
 * an endless device would block or never end. */
static bool readable(const struct stat *st)
{
	return S_ISREG(st->st_mode) ||
	       (S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3));
}

/* What a file that is not a regular one is, for an error message. */
static const char *file_kind(mode_t mode)
{
	return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" :
	       S_ISSOCK(mode) ? "a socket" :
	       S_ISCHR(mode) ? "a character device" :
	       S_ISBLK(mode) ? "a block device" : "not a regular file";
}

/* The whole of file (NUL bytes and all), malloc'd, its size in *n; NULL
 * when it cannot be read, or out of memory (*oom set). */
static char *slurp(const char *file, size_t *n, bool *oom)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	while (b) {
		len += fread(b + len, 1, cap - len, f);
		if (len < cap)
			break;
		char *g = realloc(b, cap *= 2);
		if (!g)
			free(b);
		b = g;
	}
	fclose(f);
	*oom = !b;
	*n = len;
	return b;
}

/* The name of an @include whose quoted text begins at p (after the
 * opening quote, end at e), into name; returns where its closing quote
 * is, or NULL when there is none. Like libconfig 1.5's scanner, the name
 * may span lines and knows the escapes \\ and \". *odd is set when it
 * holds a NUL byte or another backslash: libconfig reads those otherwise
 * (a NUL ends a run of the name, so `@include "\0x"` names the include
 * directory itself), and no real file name needs them. */
static const char *include_name(const char *p, const char *e, char *name,
				size_t size, bool *odd)
{
	size_t k = 0;
	*odd = false;
	for (; p < e && *p != '"'; p++) {
		char c = *p;
		if (c == '\\' && p + 1 < e && (p[1] == '\\' || p[1] == '"'))
			c = *++p;
		else if (c == '\\' || c == '\0')
			*odd = true;
		if (k + 1 < size)
			name[k++] = c == '\0' ? '?' : c;
	}
	name[k] = '\0';
	return p < e ? p : NULL;
}

/* libconfig 1.5 opens what an @include names without looking at it: a FIFO
 * (or a device) blocks the reader until someone writes to it, and the
 * daemon's reload with it; a directory (`@include ""` names the include
 * directory itself) makes its scanner fail and exit the process. So every
 * `@include "name"` of `file`, and of the files those include (as deep as
 * libconfig goes), must name a regular file. Names are found as libconfig
 * 1.5's scanner finds them (a line starting with @include, see
 * include_name(), the name taken below the include directory even when it
 * starts with '/'); a name that does not exist is left to libconfig's own
 * error, one it could read otherwise is refused. */
static bool check_includes(struct loader *l, const char *file,
			   const char *dir, int depth)
{
	size_t n = 0;
	char *text = slurp(file, &n, &l->oom);
	if (!text) {
		if (l->oom)
			snprintf(l->err, l->err_size, "%s: out of memory",
				 l->path);
		return !l->oom;
	}
	const char *e = text + n;
	unsigned lineno = 1;
	bool ok = true;
	for (const char *p = text; ok && p < e;) {
		/* p is at the start of line `lineno` */
		const char *q = p;
		while (q < e && (*q == ' ' || *q == '\t'))
			q++;
		const char *gap = q + 8;
		bool inc = (size_t)(e - q) > 8 && !memcmp(q, "@include", 8) &&
			   (*gap == ' ' || *gap == '\t');
		while (inc && gap < e && (*gap == ' ' || *gap == '\t'))
			gap++;
		char name[4096];
		bool odd = false;
		const char *close = inc && gap < e && *gap == '"'
			? include_name(gap + 1, e, name, sizeof name, &odd)
			: NULL;
		if (close && odd) {
			snprintf(l->err, l->err_size, "%s:%u: @include \"%.200s"
				 "\": a NUL byte or a backslash that escapes "
				 "neither \\ nor \" in the name (expected a file "
				 "name)", file, lineno, name);
			ok = false;
		} else if (close) {
			char *full;
			if (asprintf(&full, "%s/%s", dir,
				     name[0] == '/' ? name + 1 : name) < 0) {
				l->oom = true;
				break;
			}
			struct stat st;
			if (stat(full, &st) == 0 && !readable(&st)) {
				snprintf(l->err, l->err_size, "%s:%u: @include "
					 "\"%s\": %s is %s (expected a regular "
					 "file)", file, lineno, name, full,
					 file_kind(st.st_mode));
				ok = false;
			} else if (stat(full, &st) == 0 && depth < 10) {
				ok = check_includes(l, full, dir, depth + 1);
			}
			free(full);
			/* the name may have spanned lines */
			for (; p < close; p++)
				lineno += *p == '\n';
		}
		while (p < e && *p != '\n')
			p++;
		if (p < e) {
			p++;
			lineno++;
		}
	}
	free(text);
	if (l->oom)
		snprintf(l->err, l->err_size, "%s: out of memory", l->path);
	return ok && !l->oom;
}

static bool read_file(struct loader *l, config_t *cfg, const char *dir)
{
	struct stat st;
	if (stat(l->path, &st) != 0 || access(l->path, R_OK) != 0) {
		snprintf(l->err, l->err_size, "%s: cannot read: %s", l->path,
			 strerror(errno));
		return false;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(l->err, l->err_size, "%s: cannot read: %s", l->path,
			 strerror(EISDIR));
		return false;
	}
	if (!readable(&st)) {
		snprintf(l->err, l->err_size, "%s: cannot read: it is %s "
			 "(expected a regular file)", l->path,
			 file_kind(st.st_mode));
		return false;
	}
	if (!check_includes(l, l->path, dir, 0))
		return false;
	if (config_read_file(cfg, l->path))
		return true;
	const char *file = config_error_file(cfg);
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		snprintf(l->err, l->err_size, "%s: cannot read: %s",
			 file ? file : l->path, config_error_text(cfg));
	else if (yes_no_on_line(file ? file : l->path, config_error_line(cfg),
				l->err, l->err_size)) {
		/* the error names the word and the fix */
	} else {
		/* libconfig's text is often just "syntax error" itself. */
		const char *text = config_error_text(cfg);
		bool plain = !text || !strcmp(text, "syntax error");
		snprintf(l->err, l->err_size,
			 "%s:%d: syntax error%s%s (expected libconfig syntax: "
			 "name = value; or group = { name = value; };)",
			 file ? file : l->path, config_error_line(cfg),
			 plain ? "" : ": ", plain ? "" : text);
	}
	return false;
}

bool conf_load(struct conf *c, const char *path, char *err, size_t err_size)
{
	assert(c && path && err && err_size > 0);
	err[0] = '\0';
	struct loader l = { .c = c, .path = path, .err = err,
			    .err_size = err_size };
	if (!conf_defaults(c) || !(c->path = strdup(path))) {
		snprintf(err, err_size, "%s: out of memory", path);
		conf_free(c);
		return false;
	}
	/* @include "x" is relative to the file's own directory. */
	char *dir = strdup(path);
	if (!dir) {
		snprintf(err, err_size, "%s: out of memory", path);
		conf_free(c);
		return false;
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	config_t cfg;
	config_init(&cfg);
	config_set_include_dir(&cfg, slash ? dir : ".");
	bool ok = read_file(&l, &cfg, slash ? dir : ".") &&
		  load_settings(&l, config_root_setting(&cfg));
	config_destroy(&cfg);
	free(dir);
	if (!ok)
		conf_free(c);
	return ok;
}

/* ---- environment ---- */

bool conf_apply_env(struct conf *c, const char *mpd_host, const char *mpd_port,
		    char *err, size_t err_size)
{
	assert(c && err && err_size > 0);
	int i_host = find_option("mpd.host");
	int i_port = find_option("mpd.port");
	int i_pass = find_option("mpd.password");
	assert(i_host >= 0 && i_port >= 0 && i_pass >= 0);
	char *host = NULL, *password = NULL;
	unsigned port = 0;

	/* libmpdclient: "@..." is an abstract socket; otherwise the text
	 * before the first '@' is the password. The file's mpd.host wins
	 * over MPD_HOST as a whole, so its password never goes to the file's
	 * host. */
	bool use_host = mpd_host && *mpd_host &&
			c->source[i_host] != CONF_SOURCE_FILE;
	/* mpd.port = 0 in the file means "MPD_PORT, else the default". */
	bool use_port = mpd_port && *mpd_port &&
			(c->source[i_port] != CONF_SOURCE_FILE ||
			 c->mpd.port == 0);
	if (use_port) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(mpd_port, &end, 10);
		if (mpd_port[0] < '0' || mpd_port[0] > '9' || *end ||
		    errno || v < 1 || v > 65535) {
			snprintf(err, err_size, "MPD_PORT: \"%s\" is not a "
				 "port (expected an integer from 1 to 65535)",
				 mpd_port);
			return false;
		}
		port = (unsigned)v;
	}
	if (use_host) {
		const char *at = mpd_host[0] == '@' ? NULL
						    : strchr(mpd_host, '@');
		const char *h = at ? at + 1 : mpd_host;
		if (at && c->source[i_pass] != CONF_SOURCE_FILE &&
		    !(password = strndup(mpd_host, (size_t)(at - mpd_host))))
			goto oom;
		if (*h && !(host = strdup(h)))
			goto oom;
	}
	if (use_port) {
		c->mpd.port = port;
		c->source[i_port] = CONF_SOURCE_ENV;
	}
	if (host) {
		free(c->mpd.host);
		c->mpd.host = host;
		c->source[i_host] = CONF_SOURCE_ENV;
	}
	if (password) {
		free(c->mpd.password);
		c->mpd.password = password;
		c->source[i_pass] = CONF_SOURCE_ENV;
	}
	return true;
oom:
	free(password);
	free(host);
	snprintf(err, err_size, "MPD_HOST: out of memory");
	return false;
}

/* ---- description ---- */

size_t conf_option_count(void)
{
	return N_OPTIONS;
}

int conf_option_index(const char *name)
{
	assert(name);
	return find_option(name);
}

bool conf_option_bounds(size_t i, double *min, double *max, bool *integer)
{
	if (i >= N_OPTIONS)
		return false;
	const struct option *o = &options[i];
	if (o->type != OPT_INT && o->type != OPT_UNSIGNED &&
	    o->type != OPT_DOUBLE && o->type != OPT_INT_LIST)
		return false;
	*min = o->min;
	*max = o->max;
	*integer = is_integer(o);
	return true;
}

bool conf_option_equal(const struct conf *a, const struct conf *b, size_t i)
{
	assert(a && b);
	if (i >= N_OPTIONS)
		return false;
	const struct option *o = &options[i];
	const void *pa = cfield(a, o), *pb = cfield(b, o);
	switch (o->type) {
	case OPT_INT:
		return *(const int *)pa == *(const int *)pb;
	case OPT_UNSIGNED:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case OPT_DOUBLE:
		return *(const double *)pa == *(const double *)pb;
	case OPT_BOOL:
		return *(const bool *)pa == *(const bool *)pb;
	case OPT_LEVEL:
		return *(const enum conf_log_level *)pa ==
		       *(const enum conf_log_level *)pb;
	case OPT_INT_LIST: {
		int na = *(const int *)((const char *)a + o->count_offset);
		int nb = *(const int *)((const char *)b + o->count_offset);
		return na == nb && memcmp(pa, pb, (size_t)na * sizeof(int)) == 0;
	}
	case OPT_STRING:
	case OPT_PATH: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
		return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
	}
	case OPT_RULES: {
		int na = *(const int *)((const char *)a + o->count_offset);
		int nb = *(const int *)((const char *)b + o->count_offset);
		char *const *va = *(char **const *)pa;
		char *const *vb = *(char **const *)pb;
		if (na != nb)
			return false;
		for (int k = 0; k < na; k++)
			if (strcmp(va[k], vb[k]) != 0)
				return false;
		return true;
	}
	}
	return false;
}

/* Appends the printf-formatted text to buf (n bytes, *used of them used).
 * False, *used unchanged, when it does not fit. */
__attribute__((format(printf, 4, 5)))
static bool append(char *buf, size_t n, size_t *used, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf + *used, n - *used, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= n - *used)
		return false;
	*used += (size_t)r;
	return true;
}

static void format_value(const struct conf *c, const struct option *o,
			 char *buf, size_t n)
{
	const void *p = cfield(c, o);
	switch (o->type) {
	case OPT_INT:
		snprintf(buf, n, "%d", *(const int *)p);
		break;
	case OPT_UNSIGNED:
		snprintf(buf, n, "%u", *(const unsigned *)p);
		break;
	case OPT_DOUBLE:
		snprintf(buf, n, "%.10g", *(const double *)p);
		break;
	case OPT_BOOL:
		snprintf(buf, n, "%s", *(const bool *)p ? "true" : "false");
		break;
	case OPT_LEVEL: {
		enum conf_log_level v = *(const enum conf_log_level *)p;
		snprintf(buf, n, "\"%s\"", (size_t)v < sizeof level_names /
					   sizeof *level_names
						   ? level_names[v] : "?");
		break;
	}
	case OPT_INT_LIST: {
		const int *v = p;
		int count = *(const int *)((const char *)c + o->count_offset);
		size_t used = 0;
		buf[0] = '\0';
		for (int k = 0; k < count && k < CONF_MAX_HIDDEN; k++)
			if (!append(buf, n, &used, "%s%d", k ? ", " : "[",
				    v[k]))
				return;
		snprintf(buf + used, n - used, "%s", count > 0 ? "]" : "[]");
		break;
	}
	case OPT_STRING:
	case OPT_PATH: {
		const char *s = *(char *const *)p;
		if (o->offset == AT(mpd.password))
			snprintf(buf, n, "%s", s ? "(set)" : "(unset)");
		else if (s)
			snprintf(buf, n, "\"%s\"", s);
		else
			snprintf(buf, n, "(unset)");
		break;
	}
	case OPT_RULES: {
		char *const *v = *(char **const *)p;
		int count = *(const int *)((const char *)c + o->count_offset);
		size_t used = 0;
		buf[0] = '\0';
		for (int k = 0; k < count; k++)
			if (!append(buf, n, &used, "%s\"%s\"", k ? ", " : "[",
				    v[k]))
				return;
		snprintf(buf + used, n - used, "%s", count > 0 ? "]" : "[]");
		break;
	}
	}
}

bool conf_option_describe(const struct conf *c, size_t i, const char **name,
			  const char **help, char *value, size_t value_size,
			  enum conf_source *source)
{
	assert(c);
	if (i >= N_OPTIONS)
		return false;
	const struct option *o = &options[i];
	if (name)
		*name = o->name;
	if (help)
		*help = o->help;
	if (value && value_size > 0)
		format_value(c, o, value, value_size);
	if (source)
		*source = (enum conf_source)c->source[i];
	return true;
}

const char *conf_source_name(enum conf_source s)
{
	switch (s) {
	case CONF_SOURCE_DEFAULT:
		return "default";
	case CONF_SOURCE_FILE:
		return "file";
	case CONF_SOURCE_ENV:
		return "environment";
	case CONF_SOURCE_COMMAND_LINE:
		return "command line";
	}
	return "?";
}
