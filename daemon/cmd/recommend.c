/* mpdrec recommend [-n N] [--explain]: the next picks. */
#include "conf/conf.h"
#include "core/model.h"
#include "core/rank.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
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

struct feature_push {
	int index;
	float value;
};

static int by_push(const void *a, const void *b)
{
	float x = fabsf(((const struct feature_push *)a)->value);
	float y = fabsf(((const struct feature_push *)b)->value);
	return (x < y) - (x > y);
}

static void explain(struct learn *l, struct rank *r, int i,
		    const unsigned char *liked)
{
	const struct store_library *lib = learn_library(l);
	int dim = lib->dim;
	float *contrib = calloc((size_t)dim, sizeof *contrib);
	struct feature_push *p = malloc((size_t)dim * sizeof *p);
	if (contrib && p &&
	    model_explain(learn_model(l), lib->x + (size_t)i * dim, contrib)) {
		for (int j = 0; j < dim; j++)
			p[j] = (struct feature_push){ j, contrib[j] };
		qsort(p, (size_t)dim, sizeof *p, by_push);
		printf("     pushed by:");
		for (int j = 0; j < 3 && j < dim; j++) {
			const struct feature_info *fi =
				features_info(p[j].index);
			printf(" %s %+.3f (%g%s%s)%s", fi->name,
			       (double)p[j].value,
			       (double)lib->x[(size_t)i * dim + p[j].index],
			       fi->unit[0] ? " " : "", fi->unit,
			       j < 2 ? "," : "");
		}
		printf("\n");
	}
	int near[3];
	int k = rank_nearest(r, i, liked, 3, near);
	if (k > 0) {
		printf("     near liked:");
		for (int j = 0; j < k; j++)
			printf(" %s%s", lib->uri[near[j]], j + 1 < k ? "," : "");
		printf("\n");
	}
	free(contrib);
	free(p);
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
	struct rank *r = NULL;
	int *order = NULL;
	unsigned char *liked = NULL;
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
	liked = calloc((size_t)lib->n, 1);
	if (!order || !liked)
		goto out;
	int m = 0;
	/* The same rules as the queue: no bans, nothing too short to judge,
	 * nothing heard within queue.history_hours. */
	struct heard_ctx h = { l, liked };
	if (!store_each_played_since(s, (double)time(NULL) -
				     c->queue.history_hours * 3600.0,
				     mark_heard, &h))
		fprintf(stderr, "mpdrec: recent plays: %s\n", store_error(s));
	for (int i = 0; i < lib->n; i++)
		if (!lib->banned[i] && !liked[i] &&
		    lib->duration[i] >= c->feedback.min_duration)
			order[m++] = i;
	memset(liked, 0, (size_t)lib->n);
	sort_scores = mean;
	qsort(order, (size_t)m, sizeof *order, by_score);
	if (want_explain) {
		r = rank_new(lib->x, lib->n, lib->dim, 1, err, sizeof err);
		int idx[256], lab[256];
		int k = learn_recent(l, 256, idx, lab);
		for (int j = 0; j < k; j++)
			liked[idx[j]] = lab[j] == 1;
	}
	printf("%-5s %-6s %-6s %s\n", "#", "score", "spread", "track");
	for (int j = 0; j < n && j < m; j++) {
		int i = order[j];
		printf("%-5d %.3f  %.3f  %s%s%s\n", j + 1, (double)mean[i],
		       (double)spread[i], lib->uri[i],
		       lib->artist[i] ? "  — " : "",
		       lib->artist[i] ? lib->artist[i] : "");
		if (want_explain && r)
			explain(l, r, i, liked);
	}
	rc = 0;
out:
	free(order);
	free(liked);
	rank_free(r);
	learn_free(l);
	store_close(s);
	return rc;
}
