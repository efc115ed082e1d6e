/* libFuzzer harness: the model loader (core/model.h, model_load).
 *
 * Each input is tried twice: as it is, and with its last four bytes replaced
 * by the CRC-32 of the rest, so mutations get past the checksum and reach the
 * header and state checks behind it. A load that succeeds must give a model
 * that saves again, whose saved blob loads again, saves to the very same
 * bytes and scores a probe exactly as the first one.
 *
 * FUZZ_MAKE_SEEDS=DIR makes the binary write seed blobs (model_save of small
 * models, fresh, learned and trained) into DIR and exit instead of fuzzing:
 * run.sh uses it to build the seed corpus.
 */
#include "core/model.h"
#include "tests/fuzz/fuzz_common.h"

#include <math.h>

/* CRC-32 (IEEE 802.3, as zlib), the checksum model_save ends a blob with. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* ---- seeds ---- */

static void write_seed(const char *dir, const char *name,
		       const struct model *m)
{
	void *blob;
	size_t size;
	char err[256];
	FUZZ_CHECK(model_save(m, &blob, &size, err, sizeof err), "%s", err);
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f && fwrite(blob, 1, size, f) == size && fclose(f) == 0,
		   "cannot write %s", path);
	free(blob);
}

/* Deterministic pseudo-random numbers in [0, 1) for the seed data. */
static float seed_rand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)((*s >> 8) & 0xffff) / 65536.0f;
}

static void make_seeds(const char *dir)
{
	char err[256];
	struct model_params p;
	enum { ROWS = 40, MAX_IN = 13 };
	float x[ROWS * MAX_IN], y[ROWS];
	unsigned s = 7;

	/* 1: untrained, one hidden layer, two members. */
	model_params_default(&p, 3);
	p.hidden[0] = 4;
	p.n_hidden = 1;
	p.ensemble = 2;
	struct model *m = model_new(&p, err, sizeof err);
	FUZZ_CHECK(m != NULL, "%s", err);
	write_seed(dir, "fresh", m);
	model_free(m);

	/* 2: fitted scaler (one skewed feature) and a few learned events,
	 * so the Adam state and the event count are not zero. */
	model_params_default(&p, 5);
	p.hidden[0] = 6;
	p.hidden[1] = 3;
	p.n_hidden = 2;
	p.ensemble = 1;
	p.batch = 8;
	m = model_new(&p, err, sizeof err);
	FUZZ_CHECK(m != NULL, "%s", err);
	for (int i = 0; i < ROWS; i++) {
		for (int j = 0; j < 5; j++)
			x[i * 5 + j] = seed_rand(&s);
		x[i * 5 + 4] = expf(8.0f * x[i * 5 + 4]);
		y[i] = x[i * 5] > 0.5f ? 1.0f : 0.0f;
	}
	FUZZ_CHECK(model_fit_scaler(m, x, ROWS, err, sizeof err), "%s", err);
	struct model_data hist = { .x = x, .y = y, .n = 10 };
	for (int i = 10; i < 14; i++)
		model_learn(m, x + i * 5, y[i], 1.0f, &hist);
	write_seed(dir, "learned", m);
	model_free(m);

	/* 3: 13 inputs as the paper's attributes, trained in full. */
	model_params_default(&p, MAX_IN);
	p.hidden[0] = 8;
	p.hidden[1] = 4;
	p.n_hidden = 2;
	p.ensemble = 2;
	p.max_epochs = 5;
	m = model_new(&p, err, sizeof err);
	FUZZ_CHECK(m != NULL, "%s", err);
	for (int i = 0; i < ROWS; i++) {
		for (int j = 0; j < MAX_IN; j++)
			x[i * MAX_IN + j] = seed_rand(&s) * (float)(j + 1);
		y[i] = (float)(i % 2);
	}
	struct model_data d = { .x = x, .y = y, .n = ROWS };
	FUZZ_CHECK(model_train(m, &d, NULL, err, sizeof err), "%s", err);
	write_seed(dir, "trained", m);
	model_free(m);

	/* 4: no hidden layer at all (logistic regression). */
	model_params_default(&p, 2);
	p.n_hidden = 0;
	p.ensemble = 3;
	m = model_new(&p, err, sizeof err);
	FUZZ_CHECK(m != NULL, "%s", err);
	write_seed(dir, "linear", m);
	model_free(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = getenv("FUZZ_MAKE_SEEDS");
	if (dir && *dir) {
		make_seeds(dir);
		exit(0);
	}
	return 0;
}

/* ---- fuzzing ---- */

/* Scores a fixed probe (every feature 0.5); mean and spread into out[2]. */
static void probe(struct model *m, float out[2])
{
	int n = model_inputs(m);
	float *x = malloc((size_t)n * sizeof *x);
	FUZZ_CHECK(x != NULL, "out of memory");
	for (int j = 0; j < n; j++)
		x[j] = 0.5f;
	model_score(m, x, 1, &out[0], &out[1]);
	free(x);
}

static bool same_float(float a, float b)
{
	return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

static void try_load(const uint8_t *data, size_t size)
{
	char err[256];
	err[0] = '\0';
	struct model *m = model_load(data, size, err, sizeof err);
	if (!m) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		return;
	}
	FUZZ_CHECK(model_inputs(m) >= 1, "%d inputs", model_inputs(m));
	FUZZ_CHECK(model_events_seen(m) >= 0, "%d events",
		   model_events_seen(m));
	const struct model_params *p = model_get_params(m);
	FUZZ_CHECK(model_params_check(p, err, sizeof err),
		   "loaded bad parameters: %s", err);

	void *b1, *b2;
	size_t s1, s2;
	FUZZ_CHECK(model_save(m, &b1, &s1, err, sizeof err),
		   "loaded model does not save: %s", err);
	FUZZ_CHECK(s1 == size, "saved %zu bytes, loaded %zu", s1, size);
	struct model *m2 = model_load(b1, s1, err, sizeof err);
	FUZZ_CHECK(m2 != NULL, "saved blob does not load: %s", err);
	FUZZ_CHECK(model_save(m2, &b2, &s2, err, sizeof err),
		   "reloaded model does not save: %s", err);
	FUZZ_CHECK(s2 == s1 && memcmp(b1, b2, s1) == 0,
		   "save/load/save changed the blob");
	FUZZ_CHECK(model_events_seen(m2) == model_events_seen(m),
		   "events %d became %d", model_events_seen(m),
		   model_events_seen(m2));
	float o1[2], o2[2];
	probe(m, o1);
	probe(m2, o2);
	FUZZ_CHECK(same_float(o1[0], o2[0]) && same_float(o1[1], o2[1]),
		   "probe scored %g±%g, after reload %g±%g", (double)o1[0],
		   (double)o1[1], (double)o2[0], (double)o2[1]);
	free(b1);
	free(b2);
	model_free(m2);
	model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size heap copies, so ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, data, size);
	try_load(copy, size);
	if (size >= 16) {
		uint32_t crc = crc32_of(copy, size - 4);
		if (memcmp(copy + size - 4, &crc, 4) != 0) {
			memcpy(copy + size - 4, &crc, 4);
			try_load(copy, size);
		}
	}
	free(copy);
	return 0;
}
