/* mpdrec eval: offline cross-validation of the model on a CSV table. */
#include "daemon/cmd/cmd.h"
#include "daemon/learn.h"

#include "conf/conf.h"
#include "core/csv.h"
#include "core/eval.h"
#include "core/model.h"

#include <cblas.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void eval_usage(FILE *f)
{
	fprintf(f,
		"usage: mpdrec eval --csv FILE --label COL [--folds K] "
		"[--repeats R]\n"
		"                   [--seed S] [--drop a,b,...]\n"
		"\n"
		"Cross-validates mpdrec's model (stratified k-fold, rows "
		"shuffled) on a\n"
		"CSV table with a header line and a 0/1 label column. Every "
		"other numeric\n"
		"column is a feature; text columns and an unnamed leading "
		"index column are\n"
		"left out. Hyperparameters come from the configuration "
		"(model.*).\n"
		"\n"
		"  --csv FILE     the table (RFC 4180; UTF-8; CRLF or LF)\n"
		"  --label COL    the 0/1 column (1 = liked)\n"
		"  --folds K      folds (default 5)\n"
		"  --repeats R    repetitions with fresh shuffles (default 1)\n"
		"  --seed S       shuffling and model seed (default 1)\n"
		"  --drop a,b     columns to leave out\n"
		"  --help         this text\n");
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void print_fold(const struct eval_fold *f, void *user)
{
	(void)user;
	printf("%6d %5d %8d %6d %9.3f %8.3f %8.3f %9.3f %7d %7.2f\n",
	       f->repeat + 1, f->fold + 1, f->n_train, f->n_val,
	       f->train_accuracy, f->val_accuracy, f->val_auc,
	       f->val_logloss, f->epochs, f->seconds);
	fflush(stdout);
}

int cmd_eval(int argc, char **argv, const struct conf *c)
{
	const char *path = NULL, *label = NULL, *drop = NULL;
	long folds = 5, repeats = 1, seed = 1;
	bool seed_set = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			eval_usage(stdout);
			return 0;
		}
		/* --opt VALUE or --opt=VALUE */
		const char *opts[] = { "--csv", "--label", "--folds",
				       "--repeats", "--seed", "--drop" };
		const char *val = NULL;
		int which = -1;
		for (int k = 0; k < 6; k++) {
			size_t n = strlen(opts[k]);
			if (!strncmp(a, opts[k], n) &&
			    (a[n] == '\0' || a[n] == '=')) {
				which = k;
				val = a[n] == '=' ? a + n + 1 : NULL;
				break;
			}
		}
		if (which < 0) {
			fprintf(stderr, "mpdrec eval: unknown argument '%s'\n",
				a);
			eval_usage(stderr);
			return 2;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "mpdrec eval: %s needs a "
					"value\n", opts[which]);
				return 2;
			}
			val = argv[++i];
		}
		bool ok = true;
		switch (which) {
		case 0: path = val; break;
		case 1: label = val; break;
		case 2: ok = parse_int(val, 2, 1000, &folds); break;
		case 3: ok = parse_int(val, 1, 1000, &repeats); break;
		case 4:
			ok = parse_int(val, 0, INT_MAX, &seed);
			seed_set = true;
			break;
		case 5: drop = val; break;
		}
		if (!ok) {
			fprintf(stderr, "mpdrec eval: %s: bad value '%s'\n",
				opts[which], val);
			return 2;
		}
	}
	if (!path || !label) {
		fprintf(stderr, "mpdrec eval: --csv and --label are "
			"required\n");
		eval_usage(stderr);
		return 2;
	}

	char err[512];
	struct csv *table = csv_read(path, err, sizeof err);
	if (!table) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	struct csv_features f;
	bool ok = csv_features(table, label, drop, &f, err, sizeof err);
	csv_free(table);
	if (!ok) {
		fprintf(stderr, "%s\n", err);
		csv_features_free(&f);
		return 2;
	}
	int likes = 0;
	for (int i = 0; i < f.n; i++)
		likes += f.y[i] == 1.0f;
	printf("%s: %d rows (%d liked, %d not), %d features:", path, f.n,
	       likes, f.n - likes, f.d);
	for (int j = 0; j < f.d; j++)
		printf("%s %s", j ? "," : "", f.names[j]);
	printf("\n");
	for (const char *p = f.notes; p && *p;) {
		const char *e = strchr(p, '\n');
		int len = e ? (int)(e - p) : (int)strlen(p);
		printf("note: %.*s\n", len, p);
		p += len + (e != NULL);
	}

	struct model_params mp;
	learn_params_from_conf(&mp, c, f.d);
	if (seed_set)
		mp.seed = (unsigned)seed;
	if (!model_params_check(&mp, err, sizeof err)) {
		fprintf(stderr, "mpdrec eval: %s\n", err);
		csv_features_free(&f);
		return 2;
	}
	printf("model: hidden");
	for (int i = 0; i < mp.n_hidden; i++)
		printf("%s%d", i ? "," : " ", mp.hidden[i]);
	printf("; ensemble %d; l2 %g; Adam %g, batch %d; early stopping "
	       "on %.0f%%, patience %d\n", mp.ensemble, (double)mp.l2,
	       (double)mp.train_learning_rate, mp.train_batch,
	       100.0 * mp.val_fraction, mp.patience);
	printf("%ld-fold stratified cross-validation, %ld repeat%s, seed "
	       "%ld\n\n", folds, repeats, repeats == 1 ? "" : "s", seed);
	printf("repeat  fold    train    val  train-acc  val-acc  val-AUC  "
	       "log-loss  epochs  fit-s\n");

	/* Training multiplies small matrices (a minibatch by a layer), where
	 * OpenBLAS's threads cost more than they bring: one thread fits the
	 * same model in about half the time, with the same results. */
	openblas_set_num_threads(1);
	struct eval_summary sum;
	ok = eval_cross_validate(&mp, f.x, f.y, f.n, (int)folds,
				 (int)repeats, (uint64_t)seed, print_fold, NULL,
				 &sum, err, sizeof err);
	csv_features_free(&f);
	if (!ok) {
		/* Too few examples of a class for the folds is bad input. */
		fprintf(stderr, "%s: %s\n", path, err);
		return 2;
	}
	printf("\nmean ± sd over %d folds:\n", sum.n_folds);
	printf("  validation accuracy  %.3f ± %.3f\n", sum.val_accuracy.mean,
	       sum.val_accuracy.sd);
	printf("  validation AUC       %.3f ± %.3f\n", sum.val_auc.mean,
	       sum.val_auc.sd);
	printf("  validation log-loss  %.3f ± %.3f\n", sum.val_logloss.mean,
	       sum.val_logloss.sd);
	printf("  training accuracy    %.3f ± %.3f\n",
	       sum.train_accuracy.mean, sum.train_accuracy.sd);
	printf("  time to fit          %.2f ± %.2f s\n", sum.seconds.mean,
	       sum.seconds.sd);
	return 0;
}
