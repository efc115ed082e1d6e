/* mpdrec eval: offline cross-validation of the model on a CSV table, with
 * a logistic-regression baseline on the same folds. */
#include "daemon/cmd/cmd.h"
#include "daemon/learn.h"

#include "conf/conf.h"
#include "core/csv.h"
#include "core/eval.h"
#include "core/model.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct eval_args {
	const char *path, *label, *drop;
	long folds, repeats, seed;
	bool seed_set, importance;
	double split;			/* 0: cross-validation */
};

static void eval_usage(FILE *f)
{
	fprintf(f,
		"usage: mpdrec eval --csv FILE --label COL [--folds K] "
		"[--repeats R]\n"
		"                   [--seed S] [--drop a,b,...] "
		"[--split FRACTION] [--importance]\n"
		"\n"
		"Cross-validates mpdrec's model (stratified k-fold, rows "
		"shuffled) on a\n"
		"CSV table with a header line and a 0/1 label column, beside "
		"a logistic\n"
		"regression fitted and scored on the same folds. Every other "
		"numeric column\n"
		"is a feature; text columns and an unnamed leading index "
		"column are left\n"
		"out. Hyperparameters come from the configuration (model.*).\n"
		"\n"
		"  --csv FILE        the table (RFC 4180; UTF-8; CRLF or LF; "
		"a regular file\n"
		"                    of at most 256 MiB)\n"
		"  --label COL       the 0/1 column (1 = liked)\n"
		"  --folds K         folds (default 5)\n"
		"  --repeats R       repetitions with fresh shuffles "
		"(default 1)\n"
		"  --seed S          shuffling and model seed (default 1)\n"
		"  --drop a,b        columns to leave out\n"
		"  --split FRACTION  instead of folds, one stratified split "
		"holding out this\n"
		"                    share (the paper: 0.2); training and "
		"validation accuracy\n"
		"                    side by side\n"
		"  --importance      also print each feature's permutation "
		"importance (the\n"
		"                    drop of held-out accuracy when its values "
		"are shuffled)\n"
		"  --help            this text\n");
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Stores optarg in *slot; false when the option was given before. */
static bool once(const char **slot, const char *opt)
{
	if (*slot) {
		fprintf(stderr, "mpdrec eval: %s given twice\n", opt);
		return false;
	}
	*slot = optarg;
	return true;
}

static bool parse_value(int opt, struct eval_args *a)
{
	char *end;
	switch (opt) {
	case 'f':
		return parse_long(optarg, 2, 1000, &a->folds);
	case 'r':
		return parse_long(optarg, 1, 1000, &a->repeats);
	case 's':
		a->seed_set = true;
		return parse_long(optarg, 0, INT_MAX, &a->seed);
	case 'p':
		errno = 0;
		a->split = strtod(optarg, &end);
		return !errno && end != optarg && !*end && a->split > 0 &&
		       a->split < 1;
	}
	return false;
}

/* Fills *a from the command line; returns -1 to go on, else the exit
 * status. */
static int parse_args(int argc, char **argv, struct eval_args *a)
{
	static const struct option opts[] = {
		{ "csv", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'l' },
		{ "folds", required_argument, NULL, 'f' },
		{ "repeats", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "drop", required_argument, NULL, 'd' },
		{ "split", required_argument, NULL, 'p' },
		{ "importance", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct eval_args){ .folds = 5, .repeats = 1, .seed = 1 };
	int opt, idx = 0;
	optind = 0;	/* glibc: start over, whoever parsed before */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		switch (opt) {
		case 'h':
			eval_usage(stdout);
			return 0;
		case 'c':
			if (!once(&a->path, "--csv"))
				return 2;
			break;
		case 'l':
			if (!once(&a->label, "--label"))
				return 2;
			break;
		case 'd':
			if (!once(&a->drop, "--drop"))
				return 2;
			break;
		case 'i':
			a->importance = true;
			break;
		case 'f': case 'r': case 's': case 'p':
			if (!parse_value(opt, a)) {
				fprintf(stderr, "mpdrec eval: --%s: bad value "
					"'%s'\n", opts[idx].name, optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "mpdrec eval: unknown option or "
				"missing value: '%s'\n", argv[optind - 1]);
			eval_usage(stderr);
			return 2;
		}
		idx = 0;
	}
	if (optind < argc) {
		fprintf(stderr, "mpdrec eval: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (!a->path || !a->label) {
		fprintf(stderr, "mpdrec eval: --csv and --label are "
			"required\n");
		eval_usage(stderr);
		return 2;
	}
	return -1;
}

/* Reads the table into *f, saying what was read; false after printing
 * the error. */
static bool load_table(const struct eval_args *a, struct csv_features *f)
{
	char err[512];
	struct csv *table = csv_read(a->path, err, sizeof err);
	if (!table) {
		fprintf(stderr, "%s\n", err);
		memset(f, 0, sizeof(*f));
		return false;
	}
	bool ok = csv_features(table, a->label, a->drop, f, err, sizeof err);
	csv_free(table);
	if (!ok) {
		fprintf(stderr, "%s\n", err);
		return false;
	}
	int likes = 0;
	for (int i = 0; i < f->n; i++)
		likes += f->y[i] == 1.0f;
	printf("%s: %d rows (%d liked, %d not), %d features:", a->path, f->n,
	       likes, f->n - likes, f->d);
	for (int j = 0; j < f->d; j++)
		printf("%s %s", j ? "," : "", f->names[j]);
	printf("\n");
	for (const char *p = f->notes; p && *p;) {
		const char *e = strchr(p, '\n');
		int len = e ? (int)(e - p) : (int)strlen(p);
		printf("note: %.*s\n", len, p);
		p += len + (e != NULL);
	}
	return true;
}

static void print_params(const struct model_params *mp)
{
	printf("model: hidden");
	for (int i = 0; i < mp->n_hidden; i++)
		printf("%s%d", i ? "," : " ", mp->hidden[i]);
	printf("; %d bins per feature; ensemble %d; l2 %g; Adam %g, batch "
	       "%d; early stopping on %.0f%%, patience %d\n", mp->bins,
	       mp->ensemble, (double)mp->l2, (double)mp->train_learning_rate,
	       mp->train_batch, 100.0 * mp->val_fraction, mp->patience);
	printf("baseline: logistic regression on standardised features, "
	       "L2 %g\n", EVAL_LOGISTIC_L2);
}

static void print_fold(const struct eval_fold *f, void *user)
{
	(void)user;
	printf("%6d %5d %8d %6d %9.3f %8.3f %8.3f %9.3f %7d %7.2f %8.3f\n",
	       f->repeat + 1, f->fold + 1, f->n_train, f->n_val,
	       f->train_accuracy, f->val_accuracy, f->val_auc,
	       f->val_logloss, f->epochs, f->seconds,
	       f->logistic.val_accuracy);
	fflush(stdout);
}

static void stat_row(const char *what, struct eval_stat net,
		     struct eval_stat lr, const char *unit)
{
	char a[64], b[64];
	snprintf(a, sizeof a, "%.3f ± %.3f%s", net.mean, net.sd, unit);
	snprintf(b, sizeof b, "%.3f ± %.3f%s", lr.mean, lr.sd, unit);
	printf("  %-20s %-18s %-18s %.2f\n", what, a, b,
	       lr.mean != 0 ? net.mean / lr.mean : NAN);
}

static void print_summary(const struct eval_summary *s)
{
	const struct eval_stats *b = &s->logistic;
	printf("\nmean ± sd over %d folds:\n", s->n_folds);
	printf("  %-20s %-18s %-18s %s\n", "", "net", "logistic", "ratio");
	stat_row("validation accuracy", s->val_accuracy, b->val_accuracy,
		 "");
	stat_row("validation AUC", s->val_auc, b->val_auc, "");
	stat_row("validation log-loss", s->val_logloss, b->val_logloss, "");
	stat_row("training accuracy", s->train_accuracy, b->train_accuracy,
		 "");
	stat_row("time to fit", s->seconds, b->seconds, " s");
}

/* Features by importance, largest first. */
static void print_importance(const struct csv_features *f,
			     const double *imp)
{
	int *order = malloc(sizeof(int) * f->d);
	if (!order)
		return;
	for (int j = 0; j < f->d; j++)
		order[j] = j;
	for (int i = 1; i < f->d; i++)		/* insertion sort, d small */
		for (int k = i; k > 0 && imp[order[k]] > imp[order[k - 1]];
		     k--) {
			int t = order[k];
			order[k] = order[k - 1];
			order[k - 1] = t;
		}
	printf("\npermutation importance (drop of held-out accuracy when "
	       "the feature is shuffled):\n");
	for (int i = 0; i < f->d; i++)
		printf("  %-28s %+.4f\n", f->names[order[i]], imp[order[i]]);
	free(order);
}

static int run_cv(const struct eval_args *a, const struct model_params *mp,
		  const struct csv_features *f)
{
	printf("%ld-fold stratified cross-validation, %ld repeat%s, seed "
	       "%ld\n\n", a->folds, a->repeats, a->repeats == 1 ? "" : "s",
	       a->seed);
	printf("repeat  fold    train    val  train-acc  val-acc  val-AUC  "
	       "log-loss  epochs  fit-s   lr-acc\n");
	char err[512];
	struct eval_summary sum;
	double *imp = a->importance ? calloc((size_t)f->d, sizeof(double))
				    : NULL;
	bool ok = eval_cross_validate_importance(
		mp, f->x, f->y, f->n, (int)a->folds, (int)a->repeats,
		(uint64_t)a->seed, print_fold, NULL, &sum, imp, err,
		sizeof err);
	if (ok) {
		print_summary(&sum);
		if (imp)
			print_importance(f, imp);
	} else {	/* too few examples of a class is bad input */
		fprintf(stderr, "%s: %s\n", a->path, err);
	}
	free(imp);
	return ok ? 0 : 2;
}

static int run_split(const struct eval_args *a,
		     const struct model_params *mp,
		     const struct csv_features *f)
{
	char err[512];
	struct eval_fold r;
	if (!eval_split(mp, f->x, f->y, f->n, a->split, (uint64_t)a->seed,
			&r, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", a->path, err);
		return 2;
	}
	printf("single stratified split: %d training rows, %d validation "
	       "rows (%.0f%%), seed %ld\n\n", r.n_train, r.n_val,
	       100.0 * a->split, a->seed);
	printf("              training  validation    AUC  log-loss  fit-s\n");
	printf("  net            %.3f       %.3f  %.3f     %.3f  %5.2f\n",
	       r.train_accuracy, r.val_accuracy, r.val_auc, r.val_logloss,
	       r.seconds);
	const struct eval_result *b = &r.logistic;
	printf("  logistic       %.3f       %.3f  %.3f     %.3f  %5.2f\n",
	       b->train_accuracy, b->val_accuracy, b->val_auc, b->val_logloss,
	       b->seconds);
	return 0;
}

int cmd_eval(int argc, char **argv, const struct conf *c)
{
	struct eval_args a;
	int rc = parse_args(argc, argv, &a);	/* --help: c may be NULL */
	if (rc >= 0)
		return rc;
	struct csv_features f;
	if (!load_table(&a, &f)) {
		csv_features_free(&f);
		return 2;
	}
	struct model_params mp;
	char err[512];
	learn_params_from_conf(&mp, c, f.d);
	if (a.seed_set)
		mp.seed = (unsigned)a.seed;
	if (!model_params_check(&mp, err, sizeof err)) {
		fprintf(stderr, "mpdrec eval: %s\n", err);
		csv_features_free(&f);
		return 2;
	}
	print_params(&mp);
	/* Training multiplies small matrices (a minibatch by a layer), where
	 * OpenBLAS's threads cost more than they bring: one thread fits the
	 * same model in about half the time, with the same results. */
	openblas_set_num_threads(1);
	rc = a.split > 0 ? run_split(&a, &mp, &f) : run_cv(&a, &mp, &f);
	csv_features_free(&f);
	return rc;
}
