/* CSV tables (RFC 4180): a header line, then records of comma-separated
 * fields; a field may be quoted ("...") and then hold commas, line breaks
 * and doubled quotes (""). UTF-8 text passes through untouched (a leading
 * byte order mark is skipped); CRLF and LF line ends both work; blank lines
 * are skipped. Errors read "FILE:LINE: what is wrong", LINE being where the
 * record (or the unterminated quote) starts.
 *
 * csv_features() then turns a parsed table into a numeric matrix and a 0/1
 * label for the offline evaluation.
 */
#ifndef MPDREC_CSV_H
#define MPDREC_CSV_H

#include <stdbool.h>
#include <stddef.h>

struct csv;

/* Bounds of what is read: a table larger than this is refused with an
 * error, not read until memory runs out. */
#define CSV_MAX_BYTES (256 << 20)
#define CSV_MAX_ROWS 10000000
#define CSV_MAX_ROWS_TEXT "10,000,000"

/** Parses text (len bytes; NUL bytes are refused); name is used in error
 *  messages. Returns NULL with err filled on malformed input. Caller
 *  frees with csv_free(). */
struct csv *csv_parse(const char *text, size_t len, const char *name,
		      char *err, size_t err_size);

/** Reads and parses the file at path (errors name the path). Refuses what
 *  is not a regular file (a device, a pipe, a directory) and files over
 *  CSV_MAX_BYTES; csv_parse refuses more than CSV_MAX_ROWS records. */
struct csv *csv_read(const char *path, char *err, size_t err_size);

/** Frees a table; accepts NULL. */
void csv_free(struct csv *c);

/** Number of header fields (every record has as many). */
int csv_columns(const struct csv *c);

/** Number of records after the header. */
int csv_rows(const struct csv *c);

/** Header field col, borrowed until csv_free(). */
const char *csv_header(const struct csv *c, int col);

/** Field col of record row (unquoted, NUL-terminated), borrowed. */
const char *csv_cell(const struct csv *c, int row, int col);

/** Line (from 1) where record row starts; row -1 is the header. */
int csv_line(const struct csv *c, int row);

/** Parses a whole field as a finite number in C notation ("4.0",
 *  "5.83e-05", "-7", spaces around allowed; not "inf", "nan", hex or
 *  "1,5"). Returns false when it is not one. */
bool csv_number(const char *s, double *out);

/** A numeric table taken from a csv: every column except the label, the
 *  dropped ones, an unnamed leading (index) column and non-numeric ones. */
struct csv_features {
	int n;			/* rows */
	int d;			/* feature columns */
	float *x;		/* (n, d) */
	float *y;		/* (n) 0 or 1 */
	char **names;		/* (d) feature column names */
	char *notes;		/* what was left out and why, one per line;
				   NULL when nothing was */
};

/** Fills *f from c: label names the 0/1 column; drop is a comma-separated
 *  list of columns to leave out (NULL or "" for none). A column counts as
 *  non-numeric (left out with a note) when at most half its values are
 *  numbers; in a numeric column, a value that is not a number is an error.
 *  Returns false with "FILE:LINE: what" in err for a missing label column,
 *  a label other than 0/1, a bad number, an unknown --drop column or no
 *  features left. Free *f with csv_features_free() whatever the result. */
bool csv_features(const struct csv *c, const char *label, const char *drop,
		  struct csv_features *f, char *err, size_t err_size);

/** Frees the arrays of *f and zeroes it; accepts a zeroed struct. */
void csv_features_free(struct csv_features *f);

#endif
