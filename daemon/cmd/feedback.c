/* mpdrec like|dislike|ban [URI]: the message on MPD's channel, for the
 * daemon to record. */
#include "conf/conf.h"
#include "daemon/channel.h"
#include "daemon/cmd/cmd.h"

#include <mpd/client.h>
#include <stdio.h>

int cmd_feedback(int argc, char **argv, const struct conf *c)
{
	if (argc > 2) {
		fprintf(stderr, "usage: mpdrec %s [URI]\n", argv[0]);
		return 2;
	}
	char text[CHANNEL_MAX + 1];
	snprintf(text, sizeof text, "%s%s%s", argv[0], argc == 2 ? " " : "",
		 argc == 2 ? argv[1] : "");
	struct channel_msg m;
	char err[160];
	if (!channel_parse(text, &m, err, sizeof err)) {
		fprintf(stderr, "mpdrec: %s\n", err);
		return 2;
	}
	struct mpd_connection *conn = cmd_connect(c);
	if (!conn)
		return 1;
	int rc = 0;
	if (!mpd_run_send_message(conn, CHANNEL_NAME, text)) {
		fprintf(stderr, "mpdrec: MPD did not pass the message on: %s%s\n",
			mpd_connection_get_error_message(conn),
			mpd_connection_get_error(conn) == MPD_ERROR_SERVER ?
			" (is the mpdrec daemon running?)" : "");
		rc = 1;
	}
	mpd_connection_free(conn);
	return rc;
}
