/* What the commands share: opening the store and MPD, with the error on
 * stderr. */
#include "daemon/cmd/cmd.h"

#include "conf/conf.h"
#include "core/store.h"
#include "daemon/link.h"

#include <stdio.h>

struct store *cmd_open_store(const struct conf *c)
{
	char err[512];
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s)
		fprintf(stderr, "mpdrec: %s\n", err);
	return s;
}

struct mpd_connection *cmd_connect(const struct conf *c)
{
	struct link_params lp;
	link_params_from_conf(&lp, c);
	char why[300];
	struct mpd_connection *m = link_open(&lp, NULL, why, sizeof why);
	if (!m)
		fprintf(stderr, "mpdrec: cannot connect to MPD: %s\n", why);
	return m;
}
