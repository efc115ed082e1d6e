#include "daemon/link.h"

#include "conf/conf.h"
#include "daemon/log.h"

#include <mpd/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_S 1.0
#define BACKOFF_MAX_S 60.0

struct link {
	char *host;
	unsigned port;
	char *password;
	unsigned timeout_ms;
	char *channel;
	char *role;
	struct mpd_connection *conn;
	double next_try;
	double backoff;
	bool in_outage;		/* an outage was logged, not yet its end */
	bool ever_up;
	char version[32];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct link *link_new(const struct link_params *p)
{
	struct link *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->host = dup_or_null(p->host);
	l->password = dup_or_null(p->password);
	l->channel = dup_or_null(p->channel);
	l->role = dup_or_null(p->role);
	if ((p->host && !l->host) || (p->password && !l->password) ||
	    (p->channel && !l->channel) || (p->role && !l->role)) {
		link_free(l);
		return NULL;
	}
	l->port = p->port;
	l->timeout_ms = p->timeout_ms;
	l->backoff = BACKOFF_MIN_S;
	return l;
}

void link_drop(struct link *l)
{
	if (l->conn)
		mpd_connection_free(l->conn);
	l->conn = NULL;
	l->version[0] = '\0';
}

void link_free(struct link *l)
{
	if (!l)
		return;
	link_drop(l);
	free(l->host);
	free(l->password);
	free(l->channel);
	free(l->role);
	free(l);
}

static const char *where(const struct link *l, char *buf, size_t size)
{
	if (l->host && l->host[0] != '/' && l->host[0] != '@')
		snprintf(buf, size, "%s:%u", l->host, l->port ? l->port : 6600);
	else if (l->host)
		snprintf(buf, size, "%s", l->host);
	else
		snprintf(buf, size, "the default MPD");
	return buf;
}

/* Logs the first failure of an outage and schedules the next try. */
static void outage(struct link *l, double now, const char *why, bool slow)
{
	char w[300];
	if (!l->in_outage && l->role)
		log_warning("%s: MPD at %s: %s; reconnecting in %.0f s",
			    l->role, where(l, w, sizeof w), why,
			    slow ? BACKOFF_MAX_S : l->backoff);
	else if (!l->in_outage)
		log_warning("MPD at %s: %s; retrying in the background",
			    where(l, w, sizeof w), why);
	else
		log_debug("%s%sMPD at %s: %s", l->role ? l->role : "",
			  l->role ? ": " : "", where(l, w, sizeof w), why);
	l->in_outage = true;
	l->next_try = now + (slow ? BACKOFF_MAX_S : l->backoff);
	l->backoff = l->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S
						    : l->backoff * 2;
}

struct mpd_connection *link_open(const struct link_params *p, bool *refused,
				 char *err, size_t err_size)
{
	if (refused)
		*refused = false;
	struct mpd_connection *c = mpd_connection_new(p->host, p->port,
						      p->timeout_ms);
	if (!c) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	const char *what = "";
	bool no = false;
	if (mpd_connection_get_error(c) != MPD_ERROR_SUCCESS)
		goto fail;
	if (p->password && !mpd_run_password(c, p->password)) {
		no = mpd_connection_get_error(c) == MPD_ERROR_SERVER;
		what = no ? "password refused: " : "";
		goto fail;
	}
	if (p->channel && !mpd_run_subscribe(c, p->channel)) {
		no = true;
		snprintf(err, err_size, "cannot subscribe to channel '%s': %s",
			 p->channel, mpd_connection_get_error_message(c));
		mpd_connection_free(c);
		if (refused)
			*refused = no;
		return NULL;
	}
	return c;
fail:
	snprintf(err, err_size, "%s%s", what,
		 mpd_connection_get_error_message(c));
	mpd_connection_free(c);
	if (refused)
		*refused = no;
	return NULL;
}

void link_params_from_conf(struct link_params *p, const struct conf *c)
{
	*p = (struct link_params){
		.host = c->mpd.host,
		.port = c->mpd.port,
		.password = c->mpd.password,
		.timeout_ms = c->mpd.timeout_ms,
	};
}

bool link_connect(struct link *l, double now)
{
	if (l->conn)
		return true;
	struct link_params p = {
		.host = l->host, .port = l->port, .password = l->password,
		.timeout_ms = l->timeout_ms, .channel = l->channel,
	};
	char why[300];
	bool refused;
	struct mpd_connection *c = link_open(&p, &refused, why, sizeof why);
	if (!c) {
		/* A refused password or channel waits the longest. */
		outage(l, now, why, refused);
		return false;
	}
	const unsigned *v = mpd_connection_get_server_version(c);
	snprintf(l->version, sizeof l->version, "%u.%u.%u", v[0], v[1], v[2]);
	l->conn = c;
	l->backoff = BACKOFF_MIN_S;
	char w[300];
	/* A second connection's words never read like the daemon's own
	 * ("connected", "is back"), which the tests and users wait for. */
	if (l->role)
		log_info("%s: listening on MPD at %s", l->role,
			 where(l, w, sizeof w));
	else if (l->in_outage && l->ever_up)
		log_info("MPD at %s is back (protocol %s)",
			 where(l, w, sizeof w), l->version);
	else
		log_info("connected to MPD at %s (protocol %s)",
			 where(l, w, sizeof w), l->version);
	l->in_outage = false;
	l->ever_up = true;
	return true;
}

bool link_up(const struct link *l)
{
	return l->conn != NULL;
}

struct mpd_connection *link_conn(struct link *l)
{
	return l->conn;
}

int link_fd(const struct link *l)
{
	return l->conn ? mpd_connection_get_fd(l->conn) : -1;
}

void link_retry_now(struct link *l)
{
	l->next_try = 0;
}

double link_next_try(const struct link *l)
{
	return l->next_try;
}

const char *link_server_version(const struct link *l)
{
	return l->version;
}

void link_fail(struct link *l, const char *why, double now)
{
	link_drop(l);
	l->backoff = BACKOFF_MIN_S;
	outage(l, now, why, false);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool link_same_params(const struct link *l, const struct link_params *p)
{
	return same_text(l->host, p->host) && l->port == p->port &&
	       same_text(l->password, p->password) &&
	       l->timeout_ms == p->timeout_ms;
}

bool link_check(struct link *l, const char *what, double now)
{
	if (!l->conn)
		return false;
	enum mpd_error e = mpd_connection_get_error(l->conn);
	if (e == MPD_ERROR_SUCCESS)
		return true;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", mpd_connection_get_error_message(l->conn));
	if (e == MPD_ERROR_SERVER && mpd_connection_clear_error(l->conn)) {
		log_warning("MPD refused %s: %s", what, msg);
		return true;
	}
	char why[700];
	snprintf(why, sizeof why, "lost during %s: %s", what, msg);
	/* MPD restarting: the first retry comes soon. */
	link_fail(l, why, now);
	return false;
}
