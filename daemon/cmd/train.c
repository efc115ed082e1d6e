/* mpdrec train: a full retrain over every event, with its metrics. */
#include "conf/conf.h"
#include "core/store.h"
#include "daemon/cmd/cmd.h"
#include "daemon/learn.h"

#include <stdio.h>

int cmd_train(int argc, char **argv, const struct conf *c)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: mpdrec train\n");
		return 2;
	}
	struct store *s = cmd_open_store(c);
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
	if (labelled > 0 && (likes == 0 || likes == labelled)) {
		fprintf(stderr, "mpdrec: cannot train on %d labelled events: "
			"they are all %s; a model needs likes and dislikes\n",
			labelled, likes ? "likes" : "dislikes");
		goto out;
	}
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
	printf("saved: a running daemon takes this model at its next song "
	       "change\n");
	rc = 0;
out:
	learn_free(l);
	store_close(s);
	return rc;
}
