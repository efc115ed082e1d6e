/* The small subcommands: status, recommend, like/dislike/ban, train. */
#include "conf/conf.h"
#include "core/model.h"
#include "core/rank.h"
#include "core/store.h"
#include "daemon/channel.h"
#include "daemon/cmd.h"
#include "daemon/learn.h"
#include "daemon/link.h"
#include "features/table.h"

#include <getopt.h>
#include <math.h>
#include <mpd/client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct store *open_store(const struct conf *c)
{
	char err[512];
	struct store *s = store_open(c->data_directory, err, sizeof err);
	if (!s)
		fprintf(stderr, "mpdrec: %s\n", err);
	return s;
}

static struct mpd_connection *connect_mpd(const struct conf *c)
{
	struct link_params lp;
	link_params_from_conf(&lp, c);
	char why[300];
	struct mpd_connection *m = link_open(&lp, NULL, why, sizeof why);
	if (!m)
		fprintf(stderr, "mpdrec: cannot connect to MPD: %s\n", why);
	return m;
}

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
	struct mpd_connection *conn = connect_mpd(c);
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

int cmd_train(int argc, char **argv, const struct conf *c)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mpdrec train\n");
		return 2;
	}
	struct store *s = open_store(c);
	if (!s)
		return 1;
	char err[512];
	int rc = 1;
	struct learn *l = learn_new(s, c, -1, err, sizeof err);
	if (!l) {
		fprintf(stderr, "mpdrec: %s\n", err);
		goto out;
	}
	int labelled, likes;
	learn_counts(l, &labelled, &likes);
	char summary[512];
	if (!learn_retrain_now(l, summary, sizeof summary)) {
		fprintf(stderr, "mpdrec: cannot train on %d labelled events "
			"(%d likes): %s\n", labelled, likes, summary);
		goto out;
	}
	printf("trained on %s\n", summary);
	if (!learn_save(l, err, sizeof err)) {
		fprintf(stderr, "mpdrec: saving the model: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	learn_free(l);
	store_close(s);
	return rc;
}

struct status_ctx {
	struct store_training last;
	bool have;
};

static bool last_training(const struct store_training *t, void *ctx)
{
	struct status_ctx *x = ctx;
	x->last = *t;
	x->have = true;
	return true;
}

static bool print_event(const struct store_event *e, void *ctx)
{
	(void)ctx;
	time_t t = (time_t)e->time;
	struct tm tm;
	localtime_r(&t, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	printf("  %s  %-8s %5.0f/%-5.0f s  %s%s\n", when, store_kind_name(e->kind),
	       e->played, e->duration, e->uri,
	       e->queued_by_us ? "  (queued by mpdrec)" : "");
	return true;
}

static void rate_line(struct store *s, const char *what, bool explored)
{
	printf("%-22s", what);
	static const int windows[] = { 50, 200 };
	for (int i = 0; i < 2; i++) {
		int liked = 0, judged = 0;
		if (!store_pick_stats(s, windows[i], explored, &liked,
				      &judged))
			printf("  (error: %s)", store_error(s));
		else if (judged == 0)
			printf("  last %3d: -       ", windows[i]);
		else
			printf("  last %3d: %3.0f%% of %-3d", windows[i],
			       100.0 * liked / judged, judged);
	}
	printf("\n");
}

int cmd_status(int argc, char **argv, const struct conf *c)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mpdrec status\n");
		return 2;
	}
	struct store *s = open_store(c);
	if (!s)
		return 1;
	int counts[4] = { 0 };
	int64_t all = 0, labelled = 0;
	if (!store_count_tracks(s, counts) ||
	    !store_count_events(s, &all, &labelled)) {
		fprintf(stderr, "mpdrec: %s\n", store_error(s));
		store_close(s);
		return 1;
	}
	printf("data:      %s\n", store_path(s));
	printf("tracks:    %d analysed, %d failed, %d pending, %d gone\n",
	       counts[STORE_ANALYSED], counts[STORE_FAILED],
	       counts[STORE_PENDING], counts[STORE_GONE]);
	printf("events:    %lld, %lld of them labelled\n", (long long)all,
	       (long long)labelled);
	printf("like rate of mpdrec's picks:\n");
	rate_line(s, "  all picks", false);
	rate_line(s, "  exploratory picks", true);
	struct status_ctx x = { 0 };
	store_each_training(s, last_training, &x);
	if (x.have)
		printf("model:     last retrain on %d events: training "
		       "accuracy %.3f, validation accuracy %.3f, AUC %.3f, "
		       "log-loss %.3f\n",
		       x.last.events, x.last.train_acc, x.last.val_acc,
		       x.last.val_auc, x.last.val_logloss);
	else
		printf("model:     not retrained yet\n");
	printf("last events:\n");
	store_each_recent_event(s, 10, print_event, NULL);
	store_close(s);
	return 0;
}

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
	struct store *s = open_store(c);
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
