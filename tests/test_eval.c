/* core/eval and `mpdrec eval` (daemon/cmd_eval.c): stratified folds,
 * cross-validation against known answers, and the command on generated
 * CSV files, good and bad. */
#include "core/eval.h"
#include "core/model.h"
#include "daemon/cmd/cmd.h"
#include "tests/lib/harness.h"
#include "tests/lib/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_folds(void)
{
	enum { N = 103, K = 5 };
	float y[N];
	int fold[N], again[N], other[N];
	for (int i = 0; i < N; i++)
		y[i] = i < 40 ? 1.0f : 0.0f;	/* sorted by label */
	char err[256];
	if (!CHECK(eval_folds(y, N, K, 7, fold, err, sizeof err)))
		return;
	int pos[K] = { 0 }, all[K] = { 0 };
	for (int i = 0; i < N; i++) {
		if (!CHECK(fold[i] >= 0 && fold[i] < K))
			return;
		all[fold[i]]++;
		pos[fold[i]] += y[i] == 1.0f;
	}
	for (int k = 0; k < K; k++) {
		CHECK_MSG(pos[k] == 8, "fold %d has %d positives", k, pos[k]);
		CHECK_MSG(all[k] == 20 || all[k] == 21, "fold %d: %d", k,
			  all[k]);
	}
	/* Shuffled: the first 20 rows are not all in one fold. */
	int same = 0;
	for (int i = 1; i < 20; i++)
		same += fold[i] == fold[0];
	CHECK(same < 19);
	/* Deterministic for a seed, different for another. */
	eval_folds(y, N, K, 7, again, err, sizeof err);
	CHECK(memcmp(fold, again, sizeof fold) == 0);
	eval_folds(y, N, K, 8, other, err, sizeof err);
	CHECK(memcmp(fold, other, sizeof fold) != 0);
	/* Too few of a class for the folds. */
	for (int i = 0; i < N; i++)
		y[i] = i < 3 ? 1.0f : 0.0f;
	CHECK(!eval_folds(y, N, K, 7, fold, err, sizeof err));
	CHECK(strstr(err, "labelled 1") != NULL);
	CHECK(!eval_folds(y, N, 1, 7, fold, err, sizeof err));
}

static void test_stat(void)
{
	double v[4] = { 1, 2, 3, 4 };
	struct eval_stat s = eval_stat_of(v, 4);
	CHECK_NEAR(s.mean, 2.5, 1e-12);
	CHECK_NEAR(s.sd, sqrt(5.0 / 3.0), 1e-12);
	s = eval_stat_of(v, 1);
	CHECK(s.mean == 1 && s.sd == 0);
}

static int folds_seen;

static void count_fold(const struct eval_fold *f, void *user)
{
	(void)f;
	(*(int *)user)++;
	folds_seen++;
}

/* Known answers: a label that is a plain threshold of one attribute is
 * learned almost perfectly; a label independent of the features stays at
 * chance. */
static void test_known_answers(void)
{
	enum { N = 500, D = SYNTH_FEATURES };
	static float x[N * D], y[N];
	synth_spotify(N, 5, x, y, NULL);
	for (int i = 0; i < N; i++)	/* danceability above 0.62 */
		y[i] = x[i * D + 1] > 0.62f ? 1.0f : 0.0f;
	struct model_params p;
	model_params_default(&p, D);
	p.ensemble = 3;
	struct eval_summary s;
	char err[256];
	int calls = 0;
	if (!CHECK_MSG(eval_cross_validate(&p, x, y, N, 5, 2, 1, count_fold,
					   &calls, &s, err, sizeof err),
		       "%s", err))
		return;
	printf("  threshold label: val accuracy %.3f ± %.3f, AUC %.3f\n",
	       s.val_accuracy.mean, s.val_accuracy.sd, s.val_auc.mean);
	CHECK_INT(calls, 10);
	CHECK_INT(s.n_folds, 10);
	CHECK(s.val_accuracy.mean >= 0.92);	/* errors only near the threshold */
	CHECK(s.val_auc.mean >= 0.98);
	CHECK(s.val_accuracy.sd > 0);	/* folds differ */

	uint64_t r = 99;
	for (int i = 0; i < N; i++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		y[i] = (r >> 40) & 1 ? 1.0f : 0.0f;
	}
	if (!CHECK(eval_cross_validate(&p, x, y, N, 5, 1, 1, NULL, NULL, &s,
				       err, sizeof err)))
		return;
	printf("  random label: val accuracy %.3f, AUC %.3f, log-loss %.3f\n",
	       s.val_accuracy.mean, s.val_auc.mean, s.val_logloss.mean);
	CHECK(s.val_accuracy.mean > 0.4 && s.val_accuracy.mean < 0.6);
	CHECK(s.val_auc.mean > 0.4 && s.val_auc.mean < 0.6);
	CHECK(s.val_logloss.mean > 0.6);	/* no better than a coin */
	/* Bad labels are refused. */
	y[3] = 2;
	CHECK(!eval_cross_validate(&p, x, y, N, 5, 1, 1, NULL, NULL, &s, err,
				   sizeof err));
}

/* Runs cmd_eval in a child with stdout and stderr to files; returns the
 * exit status and leaves the output in out/errbuf. */
static int run_eval(char **argv, char *out, size_t out_size,
		    char *errbuf, size_t err_size)
{
	char po[4096], pe[4096];
	snprintf(po, sizeof po, "%s/out.txt", harness_tmpdir());
	snprintf(pe, sizeof pe, "%s/err.txt", harness_tmpdir());
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen(po, "w", stdout) || !freopen(pe, "w", stderr))
			_exit(99);
		int argc = 0;
		while (argv[argc])
			argc++;
		int rc = cmd_eval(argc, argv, NULL);
		fflush(NULL);
		_exit(rc);
	}
	int st;
	waitpid(pid, &st, 0);
	char *bufs[2] = { out, errbuf };
	size_t sizes[2] = { out_size, err_size };
	const char *paths[2] = { po, pe };
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "r");
		size_t n = f ? fread(bufs[i], 1, sizes[i] - 1, f) : 0;
		bufs[i][n] = '\0';
		if (f)
			fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The logistic baseline: on a label that is linear in two features it
 * beats chance by far; on noise it stays near chance; it runs on the same
 * folds as the net (cross_validate fills both). */
static void test_logistic(void)
{
	enum { N = 600, D = 4 };
	static float x[N * D], y[N], p[N];
	uint64_t s = 11;
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < D; j++) {
			s += 0x9e3779b97f4a7c15ULL;
			x[i * D + j] = (float)((s >> 11) % 1000) / 100.0f *
				       (j == 3 ? 1000 : 1);	/* scales */
		}
		y[i] = x[i * D] - 0.5f * x[i * D + 1] > 2.5f ? 1.0f : 0.0f;
	}
	char err[256];
	struct eval_logistic *lr = eval_logistic_fit(x, y, 500, D, 1.0, err,
						     sizeof err);
	if (!CHECK_MSG(lr, "%s", err))
		return;
	eval_logistic_predict(lr, x + 500 * D, 100, p);
	double acc = 0;
	for (int i = 0; i < 100; i++)
		acc += (p[i] > 0.5f) == (y[500 + i] == 1.0f);
	printf("  logistic on a linear label: %.0f%% held out\n", acc);
	CHECK(acc >= 95);
	eval_logistic_free(lr);
	CHECK(!eval_logistic_fit(x, y, 1, D, 1.0, err, sizeof err));
	eval_logistic_free(NULL);

	struct model_params mp;
	model_params_default(&mp, D);
	mp.ensemble = 2;
	struct eval_summary sum;
	CHECK(eval_cross_validate(&mp, x, y, N, 3, 1, 1, NULL, NULL, &sum, err,
				  sizeof err));
	CHECK(sum.logistic.val_accuracy.mean > 0.9);
	CHECK(sum.logistic.val_auc.mean > 0.95);
	CHECK(sum.logistic.val_logloss.mean > 0);
	for (int i = 0; i < N; i++)	/* noise: chance */
		y[i] = (float)(i % 2);
	CHECK(eval_cross_validate(&mp, x, y, N, 3, 1, 1, NULL, NULL, &sum, err,
				  sizeof err));
	CHECK(sum.logistic.val_accuracy.mean < 0.6);
}

/* The paper's single split: a stratified hold-out of the asked share;
 * training and held-out accuracy of both classifiers; deterministic. */
static void test_split(void)
{
	enum { N = 500, D = SYNTH_FEATURES };
	static float x[N * D], y[N];
	synth_spotify(N, 5, x, y, NULL);
	struct model_params p;
	model_params_default(&p, D);
	p.ensemble = 2;
	struct eval_fold a, b;
	char err[256];
	if (!CHECK_MSG(eval_split(&p, x, y, N, 0.2, 3, &a, err, sizeof err),
		       "%s", err))
		return;
	CHECK_INT(a.n_train + a.n_val, N);
	CHECK(a.n_val >= 99 && a.n_val <= 101);
	CHECK(a.train_accuracy > 0.6 && a.val_accuracy > 0.6);
	CHECK(a.logistic.val_accuracy > 0.55);
	CHECK(eval_split(&p, x, y, N, 0.2, 3, &b, err, sizeof err));
	CHECK(a.val_accuracy == b.val_accuracy);
	CHECK(!eval_split(&p, x, y, N, 1.0, 3, &b, err, sizeof err));
	CHECK(!eval_split(&p, x, y, N, 0, 3, &b, err, sizeof err));
}

/* Permutation importance: a label made of one feature makes that feature
 * the most important and one it ignores worth nothing. */
static void test_importance(void)
{
	enum { N = 400, D = SYNTH_FEATURES };
	static float x[N * D], y[N];
	synth_spotify(N, 8, x, y, NULL);
	for (int i = 0; i < N; i++)	/* energy above its middle */
		y[i] = x[i * D + 3] > 0.6f ? 1.0f : 0.0f;
	struct model_params p;
	model_params_default(&p, D);
	p.ensemble = 2;
	double imp[D];
	struct eval_summary sum;
	char err[256];
	if (!CHECK_MSG(eval_cross_validate_importance(&p, x, y, N, 3, 1, 1,
						      NULL, NULL, &sum, imp,
						      err, sizeof err),
		       "%s", err))
		return;
	int best = 0;
	for (int j = 1; j < D; j++)
		best = imp[j] > imp[best] ? j : best;
	printf("  importance of the label's feature %.3f, the largest other "
	       "%.3f\n", imp[3], imp[best == 3 ? (best + 1) % D : best]);
	CHECK_INT(best, 3);
	CHECK(imp[3] > 0.2);
}

static void test_command(void)
{
	enum { N = 400, D = SYNTH_FEATURES };
	static float x[N * D], y[N];
	synth_spotify(N, 9, x, y, NULL);
	for (int i = 0; i < N; i++)	/* known answer: a threshold */
		y[i] = x[i * D + 9] > 0.06f ? 1.0f : 0.0f;	/* speechiness */
	char path[4096];
	snprintf(path, sizeof path, "%s/tracks.csv", harness_tmpdir());
	if (!CHECK(synth_write_csv(path, N, x, y, true)))
		return;
	static char out[65536], err[4096];
	char *argv[] = { "eval", "--csv", path, "--label", "target",
			 "--folds", "4", "--seed=3", "--drop", "key,mode",
			 NULL };
	int rc = run_eval(argv, out, sizeof out, err, sizeof err);
	CHECK_MSG(rc == 0, "exit %d: %s", rc, err);
	CHECK(strstr(out, "400 rows") != NULL);
	CHECK(strstr(out, "11 features") != NULL);	/* 13 - key, mode */
	CHECK(strstr(out, "note: left out the unnamed leading column"));
	CHECK(strstr(out, "note: left out column 'song_title'"));
	CHECK(strstr(out, "note: left out column 'artist'"));
	const char *a = strstr(out, "validation accuracy");
	double acc = 0, sd = 0;
	if (CHECK(a != NULL))
		sscanf(a, "validation accuracy %lf ± %lf", &acc, &sd);
	printf("  mpdrec eval on a threshold label: %.3f ± %.3f\n", acc, sd);
	CHECK(acc >= 0.92 && acc <= 1.0);
	int lines = 0;		/* one line per fold: "     1     k ..." */
	for (const char *p = out; (p = strstr(p, "\n     1 ")); p++)
		lines++;
	CHECK_INT(lines, 4);

	/* Help, usage errors and bad input. */
	char *help[] = { "eval", "--help", NULL };
	CHECK_INT(run_eval(help, out, sizeof out, err, sizeof err), 0);
	CHECK(strstr(out, "--label") != NULL);
	char *nolabel[] = { "eval", "--csv", path, NULL };
	CHECK_INT(run_eval(nolabel, out, sizeof out, err, sizeof err), 2);
	char *badk[] = { "eval", "--csv", path, "--label", "target",
			 "--folds", "1", NULL };
	CHECK_INT(run_eval(badk, out, sizeof out, err, sizeof err), 2);
	char *unknown[] = { "eval", "--bogus", NULL };
	CHECK_INT(run_eval(unknown, out, sizeof out, err, sizeof err), 2);
	char *nocol[] = { "eval", "--csv", path, "--label", "liked", NULL };
	CHECK_INT(run_eval(nocol, out, sizeof out, err, sizeof err), 2);
	char want[4200];
	snprintf(want, sizeof want, "%s:1: no column named 'liked'", path);
	CHECK_MSG(strstr(err, want) != NULL, "%s", err);

	/* A label of 2 on line 4. */
	FILE *f = fopen(path, "w");
	fputs("a,b,target\n1,2,0\n3,4,1\n5,6,2\n", f);
	fclose(f);
	char *bad[] = { "eval", "--csv", path, "--label", "target", NULL };
	CHECK_INT(run_eval(bad, out, sizeof out, err, sizeof err), 2);
	snprintf(want, sizeof want, "%s:4: label 'target' is '2'", path);
	CHECK_MSG(strstr(err, want) != NULL, "%s", err);
	/* An empty file. */
	f = fopen(path, "w");
	fclose(f);
	CHECK_INT(run_eval(bad, out, sizeof out, err, sizeof err), 2);
	snprintf(want, sizeof want, "%s:1: empty file", path);
	CHECK_MSG(strstr(err, want) != NULL, "%s", err);
	/* A missing file. */
	char *missing[] = { "eval", "--csv", "/nonexistent/x.csv", "--label",
			    "y", NULL };
	CHECK_INT(run_eval(missing, out, sizeof out, err, sizeof err), 2);
	/* Not a file: refused at once, not read for ever. */
	char *dev[] = { "eval", "--csv", "/dev/urandom", "--label", "y",
			NULL };
	CHECK_INT(run_eval(dev, out, sizeof out, err, sizeof err), 2);
	CHECK_MSG(strstr(err, "not a regular file") != NULL, "%s", err);
}

/* What eval prints: the baseline beside the net on the same folds, the
 * paper's split, the importance table, and the refusals. */
static void test_command_baseline(void)
{
	enum { N = 300, D = SYNTH_FEATURES };
	static float x[N * D], y[N];
	synth_spotify(N, 4, x, y, NULL);
	for (int i = 0; i < N; i++)
		y[i] = x[i * D + 9] > 0.06f ? 1.0f : 0.0f;
	char path[4096];
	snprintf(path, sizeof path, "%s/base.csv", harness_tmpdir());
	if (!CHECK(synth_write_csv(path, N, x, y, true)))
		return;
	static char out[65536], err[4096];
	char *cv[] = { "eval", "--csv", path, "--label", "target", "--folds",
		       "3", "--importance", NULL };
	int rc = run_eval(cv, out, sizeof out, err, sizeof err);
	CHECK_MSG(rc == 0, "exit %d: %s", rc, err);
	CHECK(strstr(out, "lr-acc") != NULL);
	const char *row = strstr(out, "validation accuracy");
	double net = 0, nsd, lr = 0, lsd, ratio = 0;
	if (CHECK(row))
		CHECK_INT(sscanf(row, "validation accuracy %lf ± %lf %lf ± %lf "
				 "%lf", &net, &nsd, &lr, &lsd, &ratio), 5);
	CHECK(net > 0.85 && lr > 0.6);
	CHECK_NEAR(ratio, net / lr, 0.02);
	CHECK(strstr(out, "permutation importance") != NULL);
	const char *imp = strstr(out, "shuffled):\n  ");
	CHECK(imp && strncmp(imp + 13, "speechiness", 11) == 0);

	char *split[] = { "eval", "--csv", path, "--label", "target",
			  "--split", "0.2", NULL };
	rc = run_eval(split, out, sizeof out, err, sizeof err);
	CHECK_MSG(rc == 0, "exit %d: %s", rc, err);
	CHECK(strstr(out, "single stratified split: 240 training rows, 60 "
			  "validation rows (20%)") != NULL);
	double tr = 0, va = 0;
	const char *n = strstr(out, "  net ");
	if (CHECK(n))
		CHECK_INT(sscanf(n, " net %lf %lf", &tr, &va), 2);
	CHECK(tr > 0.8 && va > 0.8);
	CHECK(strstr(out, "  logistic ") != NULL);

	char *twice[] = { "eval", "--csv", path, "--label", "target",
			  "--label", "speechiness", NULL };
	CHECK_INT(run_eval(twice, out, sizeof out, err, sizeof err), 2);
	CHECK_MSG(strstr(err, "--label given twice") != NULL, "%s", err);
	char *badsplit[] = { "eval", "--csv", path, "--label", "target",
			     "--split", "1.5", NULL };
	CHECK_INT(run_eval(badsplit, out, sizeof out, err, sizeof err), 2);
	CHECK_MSG(strstr(err, "--split: bad value '1.5'") != NULL, "%s", err);
	/* The label's column twice in the file. */
	FILE *f = fopen(path, "w");
	fputs("a,target,target\n1,0,0\n2,1,1\n3,0,0\n4,1,1\n", f);
	fclose(f);
	char *dup[] = { "eval", "--csv", path, "--label", "target", NULL };
	CHECK_INT(run_eval(dup, out, sizeof out, err, sizeof err), 2);
	CHECK_MSG(strstr(err, "both named 'target'") != NULL, "%s", err);
}

int main(void)
{
	RUN(test_folds);
	RUN(test_stat);
	RUN(test_known_answers);
	RUN(test_logistic);
	RUN(test_split);
	RUN(test_importance);
	RUN(test_command);
	RUN(test_command_baseline);
	return harness_finish();
}
