/* mpdrec [run] [--daemon] [--pidfile FILE]: the daemon in the foreground or
 * in the background (daemon/daemon.c). */
#include "daemon/cmd/cmd.h"
#include "daemon/daemon.h"

#include <getopt.h>
#include <stdio.h>

int cmd_run(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "daemon", no_argument, NULL, 'd' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	bool background = false;
	const char *pidfile = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "dp:", opts, NULL)) != -1) {
		if (opt == 'd')
			background = true;
		else if (opt == 'p')
			pidfile = optarg;
		else
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "mpdrec run: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	struct daemon_options o = { background, pidfile };
	return daemon_run(c, &o);
}
