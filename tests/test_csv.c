/* core/csv: RFC 4180 parsing, numbers, the numeric table, and every
 * error with its FILE:LINE. */
#include "core/csv.h"
#include "tests/lib/harness.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct csv *parse(const char *text, char *err)
{
	return csv_parse(text, strlen(text), "t.csv", err, 256);
}

static void test_quotes_and_line_ends(void)
{
	char err[256];
	const char *text =
		"\xef\xbb\xbfname,\"a, b\",c\r\n"
		"\"Hello, \"\"World\"\"\",1,\"two\r\nlines\"\r\n"
		"\r\n"
		"Sigur R\xc3\xb3s,,\"\"\n"
		"x,2,3";	/* no final line end */
	struct csv *c = parse(text, err);
	if (!CHECK_MSG(c != NULL, "%s", err))
		return;
	CHECK_INT(csv_columns(c), 3);
	CHECK_INT(csv_rows(c), 3);
	CHECK_STR(csv_header(c, 0), "name");	/* BOM skipped */
	CHECK_STR(csv_header(c, 1), "a, b");
	CHECK_STR(csv_cell(c, 0, 0), "Hello, \"World\"");
	CHECK_STR(csv_cell(c, 0, 2), "two\r\nlines");
	CHECK_STR(csv_cell(c, 1, 0), "Sigur R\xc3\xb3s");
	CHECK_STR(csv_cell(c, 1, 1), "");
	CHECK_STR(csv_cell(c, 1, 2), "");
	CHECK_STR(csv_cell(c, 2, 2), "3");
	CHECK_INT(csv_line(c, -1), 1);
	CHECK_INT(csv_line(c, 0), 2);
	CHECK_INT(csv_line(c, 1), 5);	/* after a 2-line record, a blank */
	CHECK_INT(csv_line(c, 2), 6);
	csv_free(c);
	csv_free(NULL);
}

static void test_numbers(void)
{
	double v;
	CHECK(csv_number("4.0", &v) && v == 4.0);
	CHECK(csv_number("5.83e-05", &v) && v == 5.83e-05);
	CHECK(csv_number(" -7 ", &v) && v == -7);
	CHECK(csv_number(".5", &v) && v == 0.5);
	CHECK(csv_number("1E+3", &v) && v == 1000);
	CHECK(csv_number("-60.0", &v) && v == -60);
	CHECK(!csv_number("", &v));
	CHECK(!csv_number("abc", &v));
	CHECK(!csv_number("nan", &v));
	CHECK(!csv_number("inf", &v));
	CHECK(!csv_number("Infinity", &v));
	CHECK(!csv_number("0x10", &v));
	CHECK(!csv_number("1,5", &v));
	CHECK(!csv_number("1e", &v));
	CHECK(!csv_number("1e400", &v));	/* not a finite float */
	CHECK(!csv_number("12abc", &v));
	CHECK(!csv_number("-", &v));
	/* A decimal-comma locale does not change what a number is. */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
		CHECK(csv_number("2.5", &v) && v == 2.5);
		setlocale(LC_NUMERIC, "C");
	}
}

static void test_features(void)
{
	char err[256];
	const char *text =
		",acousticness,key,target,song_title,artist,loudness\n"
		"0,0.0102,2.0,1,Mask Off,Future,-8.795\n"
		"1,0.199,1.0,0,\"Hello, Goodbye\",\"Earth, Wind & Fire\",-10.4\n"
		"2,5.83e-05,11.0,1,1999,Prince,-60.0\n";
	struct csv *c = parse(text, err);
	if (!CHECK_MSG(c != NULL, "%s", err))
		return;
	struct csv_features f;
	if (!CHECK_MSG(csv_features(c, "target", NULL, &f, err, sizeof err),
		       "%s", err))
		return;
	CHECK_INT(f.n, 3);
	CHECK_INT(f.d, 3);
	CHECK_STR(f.names[0], "acousticness");
	CHECK_STR(f.names[1], "key");
	CHECK_STR(f.names[2], "loudness");
	CHECK(f.x[2 * 3 + 0] == 5.83e-05f);
	CHECK(f.x[1 * 3 + 2] == -10.4f);
	CHECK(f.y[0] == 1 && f.y[1] == 0 && f.y[2] == 1);
	/* Notes for the index and both text columns ("1999" alone does
	 * not make song_title numeric). */
	CHECK(f.notes && strstr(f.notes, "unnamed leading column"));
	CHECK(f.notes && strstr(f.notes, "'song_title'"));
	CHECK(f.notes && strstr(f.notes, "'artist'"));
	csv_features_free(&f);
	/* --drop */
	CHECK(csv_features(c, "target", "key, loudness", &f, err, sizeof err));
	CHECK_INT(f.d, 1);
	CHECK_STR(f.names[0], "acousticness");
	csv_features_free(&f);
	csv_features_free(&f);	/* zeroed: harmless */
	csv_free(c);
}

/* Parses text and takes its features with label "y"; returns the error. */
static const char *error_of(const char *text, const char *drop)
{
	static char err[256];
	err[0] = '\0';
	struct csv *c = parse(text, err);
	if (c) {
		struct csv_features f;
		if (csv_features(c, "y", drop, &f, err, sizeof err))
			snprintf(err, sizeof err, "(no error)");
		csv_features_free(&f);
		csv_free(c);
	}
	return err;
}

#define CHECK_ERR(text, drop, want)                                          \
	do {                                                                 \
		const char *e_ = error_of(text, drop);                       \
		CHECK_MSG(strstr(e_, want) != NULL, "got '%s', want '%s'",   \
			  e_, want);                                         \
	} while (0)

static void test_errors(void)
{
	CHECK_ERR("", NULL, "t.csv:1: empty file");
	CHECK_ERR("\n\n", NULL, "t.csv:1: empty file");
	CHECK_ERR("a,y\n", NULL, "t.csv:2: no data rows");
	CHECK_ERR("a,b\n1,0\n", NULL, "t.csv:1: no column named 'y'");
	CHECK_ERR("a,y\n1,0\n2,1\n3\n", NULL, "t.csv:4: 1 field, the header "
		  "has 2");
	CHECK_ERR("a,y\n1,0\n2,1,5\n", NULL, "t.csv:3: 3 fields");
	CHECK_ERR("a,y\n1,0\n2,2\n", NULL,
		  "t.csv:3: label 'y' is '2', expected 0 or 1");
	CHECK_ERR("a,y\n1,0\n2,yes\n", NULL, "t.csv:3: label 'y' is 'yes'");
	CHECK_ERR("a,y\n1,0\n2,\n", NULL, "t.csv:3: label 'y' is ''");
	CHECK_ERR("a,y\n1,0\n2,1\nabc,1\n", NULL,
		  "t.csv:4: column 'a': 'abc' is not a number");
	CHECK_ERR("a,y\n1,0\n2,1\n,1\n", NULL,
		  "t.csv:4: column 'a': empty value is not a number");
	CHECK_ERR("a,y\n1,0\n\"2,1\n", NULL,
		  "t.csv:3: unterminated quoted field");
	CHECK_ERR("a,y\n1,0\n\"2\"x,1\n", NULL,
		  "t.csv:3: text after the closing quote");
	CHECK_ERR("a,y\n1,0\n2\"5,1\n", NULL, "t.csv:3: quote inside an "
		  "unquoted field");
	CHECK_ERR("t,y\nfoo,0\nbar,1\n", NULL,
		  "t.csv:1: no numeric feature columns");
	CHECK_ERR("a,y\n1,0\n", "b", "t.csv:1: --drop: no column named 'b'");
	/* A line number after a multi-line quoted field. */
	CHECK_ERR("a,t,y\n1,\"x\ny\",0\n2,z,q\n", NULL, "t.csv:4: label");
	static const char nul[] = "a,y\n1\0,0\n";
	char err[256];
	CHECK(!csv_parse(nul, sizeof nul - 1, "t.csv", err, sizeof err));
	CHECK_MSG(strstr(err, "t.csv:2: NUL byte") != NULL, "%s", err);
}

/* A label column named twice is refused: the second copy would become a
 * feature equal to the label (accuracy 1.000). */
static void test_duplicate_label(void)
{
	char err[256];
	struct csv *c = parse("a,target,b,target\n1,0,2,0\n3,1,4,1\n", err);
	if (!CHECK(c))
		return;
	struct csv_features f;
	CHECK(!csv_features(c, "target", NULL, &f, err, sizeof err));
	CHECK_MSG(strstr(err, "t.csv:1: columns 2 and 4 are both named "
			 "'target'") != NULL, "%s", err);
	csv_features_free(&f);
	/* Another column named twice is no label: both stay features. */
	csv_free(c);
	c = parse("a,a,target\n1,2,0\n3,4,1\n", err);
	CHECK(csv_features(c, "target", NULL, &f, err, sizeof err));
	CHECK_INT(f.d, 2);
	csv_features_free(&f);
	csv_free(c);
}

/* Reading is bounded: a device, a directory or a file over CSV_MAX_BYTES
 * is refused at once with a clear error (cat /dev/urandom as a table read
 * 4 GB before). */
static void test_bounded_read(void)
{
	char err[256];
	CHECK(!csv_read("/dev/urandom", err, sizeof err));
	CHECK_MSG(strstr(err, "/dev/urandom: not a regular file") != NULL,
		  "%s", err);
	CHECK(!csv_read(harness_tmpdir(), err, sizeof err));
	CHECK(strstr(err, "not a regular file") != NULL);
	char path[4096];
	snprintf(path, sizeof path, "%s/huge.csv", harness_tmpdir());
	FILE *f = fopen(path, "w");
	if (!CHECK(f))
		return;
	/* Sparse: no disk space is used. */
	CHECK(ftruncate(fileno(f), (off_t)CSV_MAX_BYTES + 1) == 0);
	fclose(f);
	CHECK(!csv_read(path, err, sizeof err));
	CHECK_MSG(strstr(err, "more than the 256 MiB") != NULL, "%s", err);
	remove(path);
}

static void test_read_file(void)
{
	char path[4096], err[256];
	snprintf(path, sizeof path, "%s/crlf.csv", harness_tmpdir());
	FILE *f = fopen(path, "wb");
	fputs("a,y\r\n1.5,1\r\n2.5,0\r\n", f);
	fclose(f);
	struct csv *c = csv_read(path, err, sizeof err);
	if (CHECK_MSG(c != NULL, "%s", err)) {
		CHECK_INT(csv_rows(c), 2);
		CHECK_STR(csv_cell(c, 1, 1), "0");	/* no stray \r */
		csv_free(c);
	}
	snprintf(path, sizeof path, "%s/missing.csv", harness_tmpdir());
	CHECK(!csv_read(path, err, sizeof err));
	CHECK(strstr(err, "missing.csv: No such file") != NULL);
}

int main(void)
{
	RUN(test_quotes_and_line_ends);
	RUN(test_numbers);
	RUN(test_features);
	RUN(test_errors);
	RUN(test_read_file);
	RUN(test_duplicate_label);
	RUN(test_bounded_read);
	return harness_finish();
}
