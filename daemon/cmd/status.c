/* mpdrec status: the library, the events, the like rates of the picks, the
 * model's metrics and the last events. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"

#include <stdint.h>
#include <stdio.h>
#include <time.h>

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
	struct store *s = cmd_open_store(c);
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
