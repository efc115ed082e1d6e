/* libFuzzer harness: the CSV reader (core/csv.h), from memory.
 *
 * The input is a whole CSV text for csv_parse(). A refusal must say why; a
 * table must be rectangular with every cell readable and records starting
 * on increasing lines. Each table then goes through csv_features() with its
 * last column as the label (and its second one dropped when there are three
 * or more), which must give a 0/1 label and finite features, or a reason.
 */
#include "core/csv.h"
#include "tests/fuzz/fuzz_common.h"

#include <math.h>

static void check_features(const struct csv *c)
{
	int cols = csv_columns(c);
	const char *label = csv_header(c, cols - 1);
	const char *drop = cols >= 3 ? csv_header(c, 1) : NULL;
	struct csv_features f;
	char err[512];
	err[0] = '\0';
	if (!csv_features(c, label, drop, &f, err, sizeof err)) {
		FUZZ_CHECK(err[0] != '\0', "features refused without a reason");
		csv_features_free(&f);
		return;
	}
	FUZZ_CHECK(f.n == csv_rows(c), "%d feature rows for %d records", f.n,
		   csv_rows(c));
	FUZZ_CHECK(f.d >= 1 && f.d < cols, "%d features from %d columns",
		   f.d, cols);
	for (int i = 0; i < f.n; i++)
		FUZZ_CHECK(f.y[i] == 0.0f || f.y[i] == 1.0f,
			   "label %g in row %d", (double)f.y[i], i);
	for (int k = 0; k < f.d; k++)
		FUZZ_CHECK(f.names[k] != NULL && f.names[k][0] != '\0',
			   "feature %d has no name", k);
	for (size_t i = 0; i < (size_t)f.n * (size_t)f.d; i++)
		FUZZ_CHECK(isfinite(f.x[i]), "feature value %g at %zu",
			   (double)f.x[i], i);
	csv_features_free(&f);
	FUZZ_CHECK(f.x == NULL && f.y == NULL && f.names == NULL &&
			   f.notes == NULL && f.n == 0 && f.d == 0,
		   "csv_features_free left the struct set");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the end. */
	char *text = malloc(size ? size : 1);
	FUZZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	char err[512];
	err[0] = '\0';
	struct csv *c = csv_parse(text, size, "fuzz.csv", err, sizeof err);
	free(text);
	if (!c) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		FUZZ_CHECK(strncmp(err, "fuzz.csv:", 9) == 0,
			   "error does not name the file: %s", err);
		return 0;
	}
	int cols = csv_columns(c), rows = csv_rows(c);
	FUZZ_CHECK(cols >= 1, "%d columns", cols);
	FUZZ_CHECK(rows >= 0, "%d rows", rows);
	int prev = csv_line(c, -1);
	FUZZ_CHECK(prev >= 1, "header on line %d", prev);
	for (int j = 0; j < cols; j++)
		FUZZ_CHECK(csv_header(c, j) != NULL, "header %d is NULL", j);
	for (int i = 0; i < rows; i++) {
		int line = csv_line(c, i);
		FUZZ_CHECK(line > prev, "record %d on line %d after line %d",
			   i, line, prev);
		prev = line;
		for (int j = 0; j < cols; j++) {
			const char *cell = csv_cell(c, i, j);
			FUZZ_CHECK(cell != NULL, "cell %d,%d is NULL", i, j);
			double v;
			if (csv_number(cell, &v))
				FUZZ_CHECK(isfinite(v), "'%s' read as %g",
					   cell, v);
		}
	}
	check_features(c);
	csv_free(c);
	return 0;
}
