/* mpdrec check-config [FILE]: the effective configuration and where each
 * value came from; loading the configuration for every command. */
#include "conf/conf.h"
#include "daemon/cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>

bool cmd_load_config(struct conf *c, const char *explicit_path)
{
	char err[CONF_ERR_SIZE];
	char *path = conf_find(explicit_path);
	bool ok = path ? conf_load(c, path, err, sizeof err)
		       : conf_defaults(c);
	free(path);
	if (!ok) {
		fprintf(stderr, "mpdrec: %s\n",
			path ? err : "out of memory");
		return false;
	}
	if (c->warnings)
		fprintf(stderr, "%s\n", c->warnings);
	if (!conf_apply_env(c, getenv("MPD_HOST"), getenv("MPD_PORT"), err,
			    sizeof err)) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return false;
	}
	return true;
}

int cmd_check_config(int argc, char **argv, const struct conf *c)
{
	struct conf other = { 0 };
	if (argc > 2) {
		fprintf(stderr, "usage: mpdrec check-config [FILE]\n");
		return 2;
	}
	if (argc == 2) {
		/* An explicit file to check replaces the one found. */
		if (!cmd_load_config(&other, argv[1])) {
			conf_free(&other);
			return 2;
		}
		c = &other;
	}
	printf("# configuration: %s\n", c->path ? c->path
						: "(none found: defaults)");
	for (size_t i = 0; i < conf_option_count(); i++) {
		const char *name, *help;
		char value[1024];
		enum conf_source src;
		if (!conf_option_describe(c, i, &name, &help, value,
					  sizeof value, &src))
			continue;
		printf("%-24s = %-28s # %s\n", name, value,
		       conf_source_name(src));
	}
	conf_free(&other);
	return 0;
}
