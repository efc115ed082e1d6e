/* mpdrec recommend [-n N] [--explain]: the next picks, as the daemon would
 * queue them (the same function, fill_choose, with the same rules and
 * history), leaving out what MPD's queue holds already. */
#include "conf/conf.h"
#include "core/rank.h"
#include "core/store.h"
#include "core/util.h"
#include "daemon/cmd/cmd.h"
#include "daemon/explain.h"
#include "daemon/fill.h"
#include "daemon/learn.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MPD's queue, as a list of URIs. */
struct queued {
	char **uri;
	int n, cap;
	bool oom;
};

static bool add_queued(const char *uri, void *ctx)
{
	struct queued *q = ctx;
	if (q->n == q->cap) {
		int cap = q->cap ? 2 * q->cap : 64;
		char **v = realloc(q->uri, (size_t)cap * sizeof *v);
		if (!v) {
			q->oom = true;
			return false;
		}
		q->uri = v;
		q->cap = cap;
	}
	if (!(q->uri[q->n] = strdup(uri))) {
		q->oom = true;
		return false;
	}
	q->n++;
	return true;
}

/* Reads recommend's options into *n and *want_explain: 0, or 2 after an
 * error. */
static int parse_options(int argc, char **argv, int *n, bool *want_explain)
{
	static const struct option opts[] = {
		{ "explain", no_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "n:e", opts, NULL)) != -1) {
		if (opt == 'n') {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "mpdrec recommend: -n takes a "
					"number from 1 to 100000\n");
				return 2;
			}
			*n = (int)v;
		} else if (opt == 'e') {
			*want_explain = true;
		} else {
			return 2;
		}
	}
	return 0;
}

/* The picks as a table: rank, score, spread, track and why (in words with
 * ex, else the policy's reason). */
static void print_picks(const struct rank_pick *picks, int got,
			const struct store_library *lib, struct explain *ex)
{
	/* score: the chance of a like the policy reckons (the model's score
	 * with the affinities), spread: the ensemble's. */
	printf("%-5s %-6s %-6s %s\n", "#", "score", "spread", "track");
	for (int j = 0; j < got; j++) {
		const struct rank_pick *p = &picks[j];
		int i = p->index;
		if (isnan(p->score))
			printf("%-5d %-6s %-6s ", j + 1, "-", "-");
		else
			printf("%-5d %.3f  %.3f  ", j + 1, (double)p->score,
			       (double)p->uncertainty);
		printf("%s%s%s\n", lib->uri[i], lib->artist[i] ? "  — " : "",
		       lib->artist[i] ? lib->artist[i] : "");
		if (ex) {
			char why[1024];
			printf("      %s [%s]\n",
			       explain_pick(ex, i, (double)p->uncertainty,
					    why, sizeof why), p->reason);
		} else {
			printf("      %s\n", p->reason);
		}
	}
}

int cmd_recommend(int argc, char **argv, const struct conf *c)
{
	int n = 10;
	bool want_explain = false;
	int rc = parse_options(argc, argv, &n, &want_explain);
	if (rc)
		return rc;
	struct store *s = cmd_open_store(c);
	if (!s)
		return 1;
	char err[512];
	rc = 1;
	struct explain *ex = NULL;
	struct fill *f = NULL;
	struct rank_pick *picks = NULL;
	struct queued q = { 0 };
	struct learn *l = learn_new_with(s, c, -1, want_explain, err,
					 sizeof err);
	if (!l) {
		fprintf(stderr, "mpdrec: %s\n", err);
		goto out;
	}
	const struct store_library *lib = learn_library(l);
	if (lib->n == 0) {
		fprintf(stderr, "mpdrec: nothing analysed yet: run "
			"'mpdrec analyze' (or the daemon) first\n");
		goto out;
	}
	/* Nothing that is already in MPD's queue. */
	if (!cmd_each_queued(c, add_queued, &q))
		printf("# MPD cannot be reached: songs already queued may be "
		       "listed\n");
	f = fill_new(c, s, l);
	picks = calloc((size_t)n, sizeof *picks);
	if (!f || !picks || q.oom) {
		fprintf(stderr, "mpdrec: out of memory\n");
		goto out;
	}
	int labelled, likes;
	learn_counts(l, &labelled, &likes);
	if (labelled == 0)
		printf("# no feedback yet: picks spread over the library\n");
	int got = fill_choose(f, (const char *const *)q.uri, q.n,
			      util_epoch(), n, picks);
	if (got == 0) {
		fprintf(stderr, "mpdrec: no track to recommend: every "
			"analysed track is queued, banned, left out by "
			"queue.include/queue.exclude or too short\n");
		goto out;
	}
	if (want_explain && !(ex = explain_new(lib, s, err, sizeof err)))
		fprintf(stderr, "mpdrec: %s\n", err);
	print_picks(picks, got, lib, ex);
	rc = 0;
out:
	for (int j = 0; j < q.n; j++)
		free(q.uri[j]);
	free(q.uri);
	free(picks);
	explain_free(ex);
	fill_free(f);
	learn_free(l);
	store_close(s);
	return rc;
}
