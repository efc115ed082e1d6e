/* The subcommands of the `mpdrec` binary. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and the loaded configuration,
 * prints its own output and returns the exit status: 0 ok, 1 runtime
 * failure, 2 usage or configuration error. */
#ifndef MPDREC_CMD_H
#define MPDREC_CMD_H

struct conf;

/** mpdrec eval --csv FILE --label COL [--folds K] [--repeats R] [--seed S]
 *  [--drop a,b]: offline evaluation of the model on a CSV table. */
int cmd_eval(int argc, char **argv, const struct conf *c);

/** mpdrec analyze: sync the library from MPD and analyse new/changed tracks. */
int cmd_analyze(int argc, char **argv, const struct conf *c);

/** mpdrec show URI: the named features of one track. */
int cmd_show(int argc, char **argv, const struct conf *c);

/** mpdrec export --csv [FILE]: every vector with its names and labels. */
int cmd_export(int argc, char **argv, const struct conf *c);

#endif
