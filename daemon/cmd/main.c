/* mpdrec: the command line. main() reads like a table of contents: find and
 * load the configuration, pick the subcommand, run it. */
#include "conf/conf.h"
#include "daemon/blas.h"
#include "daemon/cmd/cmd.h"
#include "daemon/log.h"
#include "daemon/version.h"

#include <cblas.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv, const struct conf *c);
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
	{ "run", cmd_run, "run [--daemon] [--pidfile FILE]",
	  "watch MPD, learn, keep the queue filled (the default)" },
	{ "analyze", cmd_analyze, "analyze [-j N] [-q]",
	  "analyse new and changed tracks of MPD's database, then exit" },
	{ "recommend", cmd_recommend, "recommend [-n N] [--explain]",
	  "print the next picks with score and uncertainty" },
	{ "status", cmd_status, "status [--failed]",
	  "the library, failed files, taste, like rates, the model" },
	{ "like", cmd_feedback, "like [URI]",
	  "tell mpdrec you like the current song (or URI)" },
	{ "dislike", cmd_feedback, "dislike [URI]",
	  "tell mpdrec you dislike the current song (or URI)" },
	{ "ban", cmd_ban, "ban [URI] | ban --artist|--album [NAME]",
	  "never queue the current song (URI, artist, album) again" },
	{ "unban", cmd_unban, "unban [URI] | unban --artist|--album NAME",
	  "lift a ban" },
	{ "unlike", cmd_unlike, "unlike [URI]",
	  "withdraw the likes of the current song (or URI)" },
	{ "train", cmd_train, "train",
	  "retrain the model on every event and report its metrics" },
	{ "eval", cmd_eval, "eval --csv FILE --label COL [--folds K] ...",
	  "cross-validate the model on a CSV table" },
	{ "show", cmd_show, "show URI|PATH | show --file PATH",
	  "print the tags and features of one track" },
	{ "export", cmd_export, "export --csv [--all] [FILE]",
	  "write the labelled tracks' features as CSV (for eval)" },
	{ "report", cmd_report, "report --html FILE",
	  "write an HTML report with plots" },
	{ "check-config", cmd_check_config, "check-config [FILE]",
	  "print the effective configuration and where it came from" },
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mpdrec [--config FILE] [-v] [COMMAND [ARGS]]\n"
		"\n"
		"A recommender for MPD: it learns from what you play to the end\n"
		"and what you skip, and keeps the queue filled.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-44s %s\n", commands[i].usage, commands[i].help);
	fprintf(f,
		"\n"
		"options (before or after the command):\n"
		"  -c, --config FILE   configuration file (default: "
		"$XDG_CONFIG_HOME/mpdrec/mpdrec.conf,\n"
		"                      then /etc/mpdrec.conf)\n"
		"  -v, --verbose       log at debug level\n"
		"  -h, --help          this help (after a command: its help)\n"
		"  -V, --version       print the version\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Whether the arguments of a subcommand ask for its help. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	}
	return false;
}

enum global_result { GLOBAL_OK, GLOBAL_MISSING };

/* Takes -c/--config FILE and -v/--verbose out of a subcommand's arguments
 * (argv[0] is the subcommand; "--" ends the options), so they work after
 * the command too. No subcommand uses -c or -v. */
static enum global_result take_global_options(int *argc, char **argv,
					      const char **config_path,
					      bool *verbose)
{
	int out = 1, i = 1;
	for (; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			*verbose = true;
		} else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (i + 1 >= *argc)
				return GLOBAL_MISSING;
			*config_path = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			*config_path = a + 9;
		} else if (!strncmp(a, "-c", 2) && a[2]) {
			*config_path = a + 2;
		} else {
			argv[out++] = argv[i];
		}
	}
	for (; i < *argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	*argc = out;
	return GLOBAL_OK;
}

/* Reads the options before the subcommand into *config_path and *verbose.
 * Returns -1 to go on, else the exit code (after --help, --version or a
 * usage error). */
static int take_leading_options(int argc, char **argv,
				const char **config_path, bool *verbose)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	/* '+': stop at the subcommand; its options are its own. */
	while ((opt = getopt_long(argc, argv, "+c:vhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*config_path = optarg;
			break;
		case 'v':
			*verbose = true;
			break;
		case 'h':
			usage(stdout);
			return cmd_finish_output(0);
		case 'V':
			printf("mpdrec %s\n", MPDREC_VERSION);
			return cmd_finish_output(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

/* Answers a subcommand's --help or --version. Returns -1 when it asks for
 * neither, else the exit code. */
static int answer_help_or_version(const struct command *cmd, int argc,
				  char **argv)
{
	if (wants_help(argc, argv)) {
		/* eval's options are many: its own full usage (before any
		 * configuration is read). */
		if (cmd->run == cmd_eval)
			return cmd_eval(argc, argv, NULL);
		printf("usage: mpdrec %s\n  %s\n", cmd->usage, cmd->help);
		return cmd_finish_output(0);
	}
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("mpdrec %s\n", MPDREC_VERSION);
			return cmd_finish_output(0);
		}
	return -1;
}

/* Fills *c for the command: from the configuration file, or the defaults
 * for `check-config FILE`; -v raises the log level. False after an error
 * was printed (*c is freed). */
static bool load_config(struct conf *c, const struct command *cmd,
			int sub_argc, const char *config_path, bool verbose)
{
	/* `check-config FILE` checks that file alone: a broken installed one
	 * must not stop the user from checking the fixed copy. */
	bool own_file = cmd->run == cmd_check_config && sub_argc == 2;
	if (own_file ? !conf_defaults(c) : !cmd_load_config(c, config_path)) {
		conf_free(c);
		return false;
	}
	if (verbose) {
		/* The command line wins over the file, at a reload too. */
		c->log.level = CONF_LOG_DEBUG;
		c->source[conf_option_index("log.level")] =
			CONF_SOURCE_COMMAND_LINE;
	}
	return true;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	bool verbose = false;
	int rc = take_leading_options(argc, argv, &config_path, &verbose);
	if (rc >= 0)
		return rc;
	char *run_argv[] = { "run", NULL };
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (sub_argc == 0) {
		sub_argc = 1;
		sub_argv = run_argv;
	}
	/* The global options also work after the command:
	 * `mpdrec status -v`, `mpdrec recommend --config FILE`. */
	switch (take_global_options(&sub_argc, sub_argv, &config_path,
				    &verbose)) {
	case GLOBAL_MISSING:
		fprintf(stderr, "mpdrec: --config needs a file name\n");
		return 2;
	case GLOBAL_OK:
		break;
	}
	const struct command *cmd = find_command(sub_argv[0]);
	if (!cmd) {
		fprintf(stderr, "mpdrec: unknown command '%s'\n", sub_argv[0]);
		usage(stderr);
		return 2;
	}
	if ((rc = answer_help_or_version(cmd, sub_argc, sub_argv)) >= 0)
		return rc;
	blas_tune(cmd->name);

	struct conf c = { 0 };
	if (!load_config(&c, cmd, sub_argc, config_path, verbose))
		return 2;
	log_setup((enum log_level)c.log.level, NULL);
	/* The nets are small: one BLAS thread learns about twice as fast as
	 * two that mostly wait for each other, and analysis threads need the
	 * other core. */
	openblas_set_num_threads(1);
	log_debug("OpenBLAS kernel: %s", blas_describe());
	optind = 1;
	rc = cmd->run(sub_argc, sub_argv, &c);
	log_close();
	conf_free(&c);
	return cmd_finish_output(rc);
}
