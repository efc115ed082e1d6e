/* What the commands share: opening the store and MPD, with the error on
 * stderr. */
#include "daemon/cmd/cmd.h"

#include "conf/conf.h"
#include "core/store.h"
#include "daemon/link.h"

#include <errno.h>
#include <mpd/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct mpd_connection *cmd_connect_quiet(const struct conf *c)
{
	struct link_params lp;
	link_params_from_conf(&lp, c);
	if (lp.timeout_ms == 0 || lp.timeout_ms > 3000)
		lp.timeout_ms = 3000;
	char why[300];
	return link_open(&lp, NULL, why, sizeof why);
}

bool cmd_each_queued(const struct conf *c,
		     bool (*fn)(const char *uri, void *ctx), void *ctx)
{
	struct mpd_connection *m = cmd_connect_quiet(c);
	if (!m)
		return false;
	/* Collect first: fn may not talk to MPD while the list comes. */
	char **uris = NULL;
	size_t n = 0, cap = 0;
	bool ok = mpd_send_list_queue_meta(m);
	struct mpd_song *song;
	while (ok && (song = mpd_recv_song(m))) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **u = realloc(uris, cap * sizeof *u);
			if (!u) {
				mpd_song_free(song);
				ok = false;
				break;
			}
			uris = u;
		}
		uris[n] = strdup(mpd_song_get_uri(song));
		if (uris[n])
			n++;
		mpd_song_free(song);
	}
	ok = ok && mpd_response_finish(m);
	for (size_t i = 0; ok && i < n; i++)
		if (!fn(uris[i], ctx))
			break;
	for (size_t i = 0; i < n; i++)
		free(uris[i]);
	free(uris);
	mpd_connection_free(m);
	return ok;
}

int cmd_finish_output(int rc)
{
	/* stdio says that a write failed (`> /dev/full`, a closed pipe, a
	 * full disk) only when the buffer is flushed: at exit, too late for
	 * the exit status. */
	errno = 0;
	bool bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (fclose(stdout) != 0 && !bad) {
		bad = true;
		e = errno;
	}
	if (!bad)
		return rc;
	/* A write that failed while printing left errno long since. */
	if (e)
		fprintf(stderr, "mpdrec: cannot write the output: %s\n",
			strerror(e));
	else
		fprintf(stderr, "mpdrec: cannot write the output\n");
	return rc ? rc : 1;
}

const char *cmd_auc_words(double auc)
{
	return auc >= 0.85 ? "strong"
	       : auc >= 0.75 ? "good"
	       : auc >= 0.65 ? "fair"
	       : auc >= 0.55 ? "weak"
			     : "no better than chance";
}
