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
}

int main(void)
{
	RUN(test_folds);
	RUN(test_stat);
	RUN(test_known_answers);
	RUN(test_command);
	return harness_finish();
}
