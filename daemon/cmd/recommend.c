/* mpdrec recommend [-n N] [--explain]: the next picks. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/explain.h"
#include "daemon/learn.h"
#include "features/table.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Orders indices by score, best first. */
static const float *sort_scores;
static int by_score(const void *a, const void *b)
{
	float x = sort_scores[*(const int *)a], y = sort_scores[*(const int *)b];
	return (x < y) - (x > y);
}

struct heard_ctx {
	struct learn *l;
	unsigned char *heard;
};

static bool mark_heard(const char *uri, void *ctx)
{
	struct heard_ctx *h = ctx;
	int i = learn_find(h->l, uri);
	if (i >= 0)
		h->heard[i] = 1;
	return true;
}

int cmd_recommend(int argc, char **argv, const struct conf *c)
{
	static const struct option opts[] = {
		{ "explain", no_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int n = 10;
	bool want_explain = false;
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
			n = (int)v;
		} else if (opt == 'e') {
			want_explain = true;
		} else {
			return 2;
		}
	}
	struct store *s = cmd_open_store(c);
	if (!s)
		return 1;
	char err[512];
	int rc = 1;
	struct explain *ex = NULL;
	int *order = NULL;
	unsigned char *heard = NULL;
	struct learn *l = learn_new(s, c, -1, err, sizeof err);
	if (!l) {
		fprintf(stderr, "mpdrec: %s\n", err);
		goto out;
	}
	const struct store_library *lib = learn_library(l);
	const float *mean, *spread;
	if (!learn_scores(l, &mean, &spread)) {
		fprintf(stderr, "mpdrec: nothing analysed yet: run "
			"'mpdrec analyze' (or the daemon) first\n");
		goto out;
	}
	int labelled, likes;
	learn_counts(l, &labelled, &likes);
	if (labelled == 0)
		printf("# no feedback yet: scores are the untrained model's\n");
	order = malloc((size_t)lib->n * sizeof *order);
	heard = calloc((size_t)lib->n, 1);
	if (!order || !heard)
		goto out;
	int m = 0;
	/* The same rules as the queue: no bans, nothing too short to judge,
	 * nothing heard within queue.history_hours. */
	struct heard_ctx h = { l, heard };
	if (!store_each_played_since(s, (double)time(NULL) -
				     c->queue.history_hours * 3600.0,
				     mark_heard, &h))
		fprintf(stderr, "mpdrec: recent plays: %s\n", store_error(s));
	/* Nor what is already in MPD's queue. */
	if (!cmd_each_queued(c, mark_heard, &h))
		printf("# MPD cannot be reached: songs already queued may be "
		       "listed\n");
	for (int i = 0; i < lib->n; i++)
		if (!lib->banned[i] && !heard[i] &&
		    lib->duration[i] >= c->feedback.min_duration)
			order[m++] = i;
	sort_scores = mean;
	qsort(order, (size_t)m, sizeof *order, by_score);
	if (want_explain && !(ex = explain_new(lib, s, err, sizeof err)))
		fprintf(stderr, "mpdrec: %s\n", err);
	printf("%-5s %-6s %-6s %s\n", "#", "score", "spread", "track");
	for (int j = 0; j < n && j < m; j++) {
		int i = order[j];
		printf("%-5d %.3f  %.3f  %s%s%s\n", j + 1, (double)mean[i],
		       (double)spread[i], lib->uri[i],
		       lib->artist[i] ? "  — " : "",
		       lib->artist[i] ? lib->artist[i] : "");
		if (ex) {
			char why[1024];
			printf("      %s\n", explain_pick(ex, i,
					(double)spread[i], why, sizeof why));
		}
	}
	rc = 0;
out:
	free(order);
	free(heard);
	explain_free(ex);
	learn_free(l);
	store_close(s);
	return rc;
}
