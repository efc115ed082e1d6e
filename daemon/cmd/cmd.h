/* The subcommands of the `mpdrec` binary. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and the loaded configuration,
 * prints its own output and returns the exit status: 0 ok, 1 runtime
 * failure, 2 usage or configuration error. */
#ifndef MPDREC_CMD_H
#define MPDREC_CMD_H

#include <stdbool.h>

struct conf;
struct mpd_connection;
struct store;

/** Loads the configuration in DESIGN.md's order (explicit_path, may be
 *  NULL; else the search) into *c, then MPD_HOST/MPD_PORT. Returns false
 *  after printing the error on stderr (exit status 2); *c is the caller's
 *  to free with conf_free() either way. */
bool cmd_load_config(struct conf *c, const char *explicit_path);

/** Opens the store of c->data_directory. Returns it (the caller closes it
 *  with store_close()), or NULL after printing why on stderr. */
struct store *cmd_open_store(const struct conf *c);

/** Connects to the MPD of *c (address, password, timeout). Returns the
 *  connection (the caller frees it with mpd_connection_free()), or NULL
 *  after printing why on stderr. */
struct mpd_connection *cmd_connect(const struct conf *c);

/** As cmd_connect(), waiting at most 3 s and printing nothing: NULL when
 *  MPD cannot be reached. */
struct mpd_connection *cmd_connect_quiet(const struct conf *c);

/** mpdrec ban --artist|--album [NAME] (plain `ban [URI]` goes to
 *  cmd_feedback), unban [URI | --artist|--album NAME], unlike [URI]. */
int cmd_ban(int argc, char **argv, const struct conf *c);
int cmd_unban(int argc, char **argv, const struct conf *c);
int cmd_unlike(int argc, char **argv, const struct conf *c);

/** Calls fn(uri, ctx) for every song in MPD's queue, connecting quietly
 *  (at most 3 s). Returns false, calling nothing, when MPD cannot be
 *  reached. For `recommend`, which leaves out what is already queued. */
bool cmd_each_queued(const struct conf *c,
		     bool (*fn)(const char *uri, void *ctx), void *ctx);
/** Flushes and closes stdout at the end of a command. Returns rc, or 1
 *  (after saying why on stderr) when rc is 0 but the output could not be
 *  written: every command exits 1 then (`mpdrec status > /dev/full`). */
int cmd_finish_output(int rc);

/** How good a ranking with this AUC is, in a word or a few ("strong",
 *  "good", "fair", "weak", "no better than chance"): a static string. */
const char *cmd_auc_words(double auc);

/** mpdrec eval --csv FILE --label COL [--folds K] [--repeats R] [--seed S]
 *  [--drop a,b]: offline evaluation of the model on a CSV table. */
int cmd_eval(int argc, char **argv, const struct conf *c);

/** mpdrec analyze: sync the library from MPD and analyse new/changed tracks. */
int cmd_analyze(int argc, char **argv, const struct conf *c);

/** mpdrec show URI: the named features of one track. */
int cmd_show(int argc, char **argv, const struct conf *c);

/** mpdrec export --csv [FILE]: every vector with its names and labels. */
int cmd_export(int argc, char **argv, const struct conf *c);

/** mpdrec [run] [--daemon] [--pidfile FILE]: the daemon (daemon/daemon.h). */
int cmd_run(int argc, char **argv, const struct conf *c);

/** mpdrec recommend [-n N] [--explain]: the next picks. */
int cmd_recommend(int argc, char **argv, const struct conf *c);

/** mpdrec status: like rates, model metrics, analysis, last events. */
int cmd_status(int argc, char **argv, const struct conf *c);

/** mpdrec like|dislike|ban [URI]: sends the message on MPD's channel. */
int cmd_feedback(int argc, char **argv, const struct conf *c);

/** mpdrec train: full retrain over every event, with its report. */
int cmd_train(int argc, char **argv, const struct conf *c);

/** mpdrec report --html FILE: the HTML report. */
int cmd_report(int argc, char **argv, const struct conf *c);

/** mpdrec check-config [FILE]: the effective configuration. */
int cmd_check_config(int argc, char **argv, const struct conf *c);

#endif
