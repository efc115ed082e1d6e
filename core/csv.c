/* RFC 4180 CSV reading: see csv.h. */
#include "core/csv.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct csv {
	char *name;
	int cols, rows;		/* rows excludes the header */
	char *text;		/* every field, NUL-terminated, in order */
	size_t text_len, text_cap;
	size_t *cell;		/* (rows + 1) × cols offsets into text */
	size_t n_cells, cell_cap;
	int *line;		/* (rows + 1) start lines, header first */
	int lines_cap;
};

static bool push_char(struct csv *c, char ch)
{
	if (c->text_len == c->text_cap) {
		size_t cap = c->text_cap ? 2 * c->text_cap : 4096;
		char *t = realloc(c->text, cap);
		if (!t)
			return false;
		c->text = t;
		c->text_cap = cap;
	}
	c->text[c->text_len++] = ch;
	return true;
}

static bool push_cell(struct csv *c, size_t start)
{
	if (c->n_cells == c->cell_cap) {
		size_t cap = c->cell_cap ? 2 * c->cell_cap : 256;
		size_t *t = realloc(c->cell, cap * sizeof(*t));
		if (!t)
			return false;
		c->cell = t;
		c->cell_cap = cap;
	}
	c->cell[c->n_cells++] = start;
	return true;
}

static bool push_line(struct csv *c, int record, int line)
{
	if (record >= c->lines_cap) {
		int cap = c->lines_cap ? 2 * c->lines_cap : 256;
		int *t = realloc(c->line, (size_t)cap * sizeof(*t));
		if (!t)
			return false;
		c->line = t;
		c->lines_cap = cap;
	}
	c->line[record] = line;
	return true;
}

void csv_free(struct csv *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->text);
	free(c->cell);
	free(c->line);
	free(c);
}

/* The parser's place in the text. */
struct cursor {
	const char *s;
	size_t i, len;
	int line;
	const char *name;
	char *err;
	size_t err_size;
};

enum field_end { FIELD_OK, FIELD_OOM, FIELD_BAD };

static enum field_end bad_at(struct cursor *k, int line, const char *what)
{
	snprintf(k->err, k->err_size, "%s:%d: %s", k->name, line, what);
	return FIELD_BAD;
}

/* A quoted field, the cursor on its opening quote. */
static enum field_end quoted_field(struct csv *c, struct cursor *k)
{
	int quote_line = k->line;
	k->i++;
	for (;;) {
		if (k->i >= k->len)
			return bad_at(k, quote_line, "unterminated quoted field");
		char ch = k->s[k->i];
		if (ch == '"') {
			if (k->i + 1 < k->len && k->s[k->i + 1] == '"') {
				k->i += 2;
				if (!push_char(c, '"'))
					return FIELD_OOM;
				continue;
			}
			k->i++;
			break;
		}
		if (ch == '\0')
			return bad_at(k, k->line, "NUL byte: not a text file");
		if (ch == '\n')
			k->line++;
		if (!push_char(c, ch))
			return FIELD_OOM;
		k->i++;
	}
	if (k->i < k->len && k->s[k->i] != ',' && k->s[k->i] != '\n' &&
	    k->s[k->i] != '\r')
		return bad_at(k, k->line,
			      "text after the closing quote of a field");
	return FIELD_OK;
}

static enum field_end plain_field(struct csv *c, struct cursor *k)
{
	while (k->i < k->len && k->s[k->i] != ',' && k->s[k->i] != '\n' &&
	       k->s[k->i] != '\r') {
		char ch = k->s[k->i];
		if (ch == '"')
			return bad_at(k, k->line, "quote inside an unquoted "
				      "field (quote the whole field and "
				      "double the quote)");
		if (ch == '\0')
			return bad_at(k, k->line, "NUL byte: not a text file");
		if (!push_char(c, ch))
			return FIELD_OOM;
		k->i++;
	}
	return FIELD_OK;
}

/* One record (the cursor at its start); *fields counts its fields. */
static enum field_end record(struct csv *c, struct cursor *k, int *fields)
{
	*fields = 0;
	for (;;) {	/* one field per turn */
		size_t start = c->text_len;
		enum field_end e = k->i < k->len && k->s[k->i] == '"'
					   ? quoted_field(c, k)
					   : plain_field(c, k);
		if (e != FIELD_OK)
			return e;
		if (!push_char(c, '\0') || !push_cell(c, start))
			return FIELD_OOM;
		(*fields)++;
		if (k->i < k->len && k->s[k->i] == ',') {
			k->i++;
			continue;
		}
		break;	/* end of record: line end or end of text */
	}
	if (k->i < k->len) {	/* consume the line end */
		if (k->s[k->i] == '\r' && k->i + 1 < k->len &&
		    k->s[k->i + 1] == '\n')
			k->i++;
		k->i++;
		k->line++;
	}
	return FIELD_OK;
}

/* Skips a blank line at the cursor; false when there is none. */
static bool blank_line(struct cursor *k)
{
	if (k->s[k->i] != '\n' && k->s[k->i] != '\r')
		return false;
	if (k->s[k->i] == '\r' && k->i + 1 < k->len && k->s[k->i + 1] == '\n')
		k->i++;
	k->i++;
	k->line++;
	return true;
}

struct csv *csv_parse(const char *s, size_t len, const char *name, char *err,
		      size_t err_size)
{
	struct csv *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name))) {
		free(c);
		snprintf(err, err_size, "%s: out of memory", name);
		return NULL;
	}
	struct cursor k = { s, 0, len, 1, name, err, err_size };
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		k.i = 3;	/* UTF-8 byte order mark */
	int record_no = 0;	/* records so far, the header being 0 */
	enum field_end e = FIELD_OK;
	while (k.i < len && e == FIELD_OK) {
		if (blank_line(&k))
			continue;
		int start_line = k.line, fields;
		if (record_no >= CSV_MAX_ROWS + 1) {
			e = bad_at(&k, start_line, "more than "
				   CSV_MAX_ROWS_TEXT " rows");
			break;
		}
		if (!push_line(c, record_no, start_line)) {
			e = FIELD_OOM;
			break;
		}
		e = record(c, &k, &fields);
		if (e != FIELD_OK)
			break;
		if (record_no == 0) {
			c->cols = fields;
		} else if (fields != c->cols) {
			snprintf(err, err_size, "%s:%d: %d field%s, the header "
				 "has %d", name, start_line, fields,
				 fields == 1 ? "" : "s", c->cols);
			e = FIELD_BAD;
		}
		record_no++;
	}
	if (e == FIELD_OK && record_no == 0)
		e = bad_at(&k, 1, "empty file (no header line)");
	if (e == FIELD_OOM)
		snprintf(err, err_size, "%s: out of memory", name);
	if (e != FIELD_OK) {
		csv_free(c);
		return NULL;
	}
	c->rows = record_no - 1;
	return c;
}

/* The whole of an open regular file f of size bytes into a malloc'd
 * buffer of *len bytes; NULL (err filled) on a read error or memory. */
static char *slurp(FILE *f, const char *path, size_t size, size_t *len,
		   char *err, size_t err_size)
{
	char *buf = malloc(size + 1);
	if (!buf) {
		snprintf(err, err_size, "%s: out of memory", path);
		return NULL;
	}
	size_t got = fread(buf, 1, size + 1, f);
	if (ferror(f)) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	if (got > size) {	/* it grew while we read */
		snprintf(err, err_size, "%s: changed while being read", path);
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

struct csv *csv_read(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "%s: not a regular file (a table is "
			 "read from a file on disk)", path);
		fclose(f);
		return NULL;
	}
	if (st.st_size > CSV_MAX_BYTES) {
		snprintf(err, err_size, "%s: %lld bytes, more than the %d MiB "
			 "a table may have", path, (long long)st.st_size,
			 CSV_MAX_BYTES >> 20);
		fclose(f);
		return NULL;
	}
	size_t len;
	char *buf = slurp(f, path, (size_t)st.st_size, &len, err, err_size);
	fclose(f);
	if (!buf)
		return NULL;
	struct csv *c = csv_parse(buf, len, path, err, err_size);
	free(buf);
	return c;
}

int csv_columns(const struct csv *c)
{
	return c->cols;
}

int csv_rows(const struct csv *c)
{
	return c->rows;
}

const char *csv_header(const struct csv *c, int col)
{
	return c->text + c->cell[col];
}

const char *csv_cell(const struct csv *c, int row, int col)
{
	return c->text + c->cell[(size_t)(row + 1) * c->cols + col];
}

int csv_line(const struct csv *c, int row)
{
	return c->line[row + 1];
}

/* ---- numbers ---- */

bool csv_number(const char *s, double *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	/* [+-] digits [. digits] [e [+-] digits], at least one digit */
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	int digits = 0;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (digits == 0)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	const char *end = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p)
		return false;
	/* The syntax is checked; convert in the C locale whatever the
	 * process's locale says about decimal commas. */
	locale_t loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!loc)
		return false;
	char *stop;
	double v = strtod_l(s, &stop, loc);
	freelocale(loc);
	if (stop != end || !isfinite(v) || !isfinite((float)v))
		return false;
	*out = v;
	return true;
}

/* ---- the numeric table ---- */

void csv_features_free(struct csv_features *f)
{
	if (f->names)
		for (int j = 0; j < f->d; j++)
			free(f->names[j]);
	free(f->names);
	free(f->x);
	free(f->y);
	free(f->notes);
	memset(f, 0, sizeof(*f));
}

static bool add_note(struct csv_features *f, const char *line)
{
	size_t old = f->notes ? strlen(f->notes) : 0;
	char *t = realloc(f->notes, old + strlen(line) + 2);
	if (!t)
		return false;
	memcpy(t + old, line, strlen(line));
	t[old + strlen(line)] = '\n';
	t[old + strlen(line) + 1] = '\0';
	f->notes = t;
	return true;
}

/* Whether name is one of the comma-separated list (spaces trimmed). */
static bool in_list(const char *list, const char *name)
{
	if (!list)
		return false;
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		while (*p == ' ')
			p++;
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		size_t l = len;
		while (l > 0 && p[l - 1] == ' ')
			l--;
		if (l == n && memcmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

static int find_column(const struct csv *c, const char *name)
{
	for (int j = 0; j < c->cols; j++)
		if (strcmp(csv_header(c, j), name) == 0)
			return j;
	return -1;
}

/* Every --drop name must exist: a typo would silently keep the column. */
static bool check_drop(const struct csv *c, const char *drop, char *err,
		       size_t err_size)
{
	for (const char *p = drop; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char col[256];
		snprintf(col, sizeof col, "%.*s", (int)len, p);
		char *a = col, *z = col + strlen(col);
		while (*a == ' ')
			a++;
		while (z > a && z[-1] == ' ')
			*--z = '\0';
		if (*a && find_column(c, a) < 0) {
			snprintf(err, err_size, "%s:%d: --drop: no column "
				 "named '%s'", c->name, csv_line(c, -1), a);
			return false;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

/* The label column: it must exist, once (a second column of that name
 * would become a feature that is the label: accuracy 1.000). */
static int label_column(const struct csv *c, const char *label, char *err,
			size_t err_size)
{
	int hl = csv_line(c, -1), lab = find_column(c, label);
	if (lab < 0) {
		snprintf(err, err_size, "%s:%d: no column named '%s'",
			 c->name, hl, label);
		return -1;
	}
	for (int j = lab + 1; j < c->cols; j++)
		if (strcmp(csv_header(c, j), label) == 0) {
			snprintf(err, err_size, "%s:%d: columns %d and %d are "
				 "both named '%s': which one is the label?",
				 c->name, hl, lab + 1, j + 1, label);
			return -1;
		}
	return lab;
}

/* Chooses the feature columns into use (f->d of them), naming them in
 * f->names and noting what is left out; false when out of memory. */
static bool choose_columns(const struct csv *c, int lab, const char *drop,
			   struct csv_features *f, int *use)
{
	int n = c->rows, d = 0;
	for (int j = 0; j < c->cols; j++) {
		const char *h = csv_header(c, j);
		if (j == lab || in_list(drop, h))
			continue;
		if (j == 0 && *h == '\0') {
			if (!add_note(f, "left out the unnamed leading column "
				      "(an index)"))
				return false;
			continue;
		}
		int numbers = 0;
		double v;
		for (int i = 0; i < n; i++)
			numbers += csv_number(csv_cell(c, i, j), &v);
		if (numbers * 2 <= n) {
			char note[300];
			snprintf(note, sizeof note,
				 "left out column '%.200s': not numeric", h);
			if (!add_note(f, note))
				return false;
			continue;
		}
		use[d] = j;
		char fallback[32];
		snprintf(fallback, sizeof fallback, "column %d", j + 1);
		if (!(f->names[d] = strdup(*h ? h : fallback)))
			return false;
		f->d = ++d;
	}
	return true;
}

/* Reads the label and the chosen columns of every row into f. */
static bool fill_rows(const struct csv *c, int lab, const char *label,
		      const int *use, struct csv_features *f, char *err,
		      size_t err_size)
{
	int d = f->d;
	for (int i = 0; i < c->rows; i++) {
		int line = csv_line(c, i);
		double v;
		const char *s = csv_cell(c, i, lab);
		if (!csv_number(s, &v) || (v != 0 && v != 1)) {
			snprintf(err, err_size,
				 "%s:%d: label '%s' is '%s', expected 0 or 1",
				 c->name, line, label, s);
			return false;
		}
		f->y[i] = (float)v;
		for (int k = 0; k < d; k++) {
			s = csv_cell(c, i, use[k]);
			if (!csv_number(s, &v)) {
				snprintf(err, err_size,
					 "%s:%d: column '%s': %s%s%s is not a "
					 "number", c->name, line, f->names[k],
					 *s ? "'" : "", *s ? s : "empty value",
					 *s ? "'" : "");
				return false;
			}
			f->x[(size_t)i * d + k] = (float)v;
		}
	}
	return true;
}

bool csv_features(const struct csv *c, const char *label, const char *drop,
		  struct csv_features *f, char *err, size_t err_size)
{
	memset(f, 0, sizeof(*f));
	int lab = label_column(c, label, err, err_size);
	if (lab < 0 || !check_drop(c, drop, err, err_size))
		return false;
	if (c->rows < 1) {
		snprintf(err, err_size, "%s:%d: no data rows after the header",
			 c->name, csv_line(c, -1) + 1);
		return false;
	}
	int n = c->rows;
	int *use = malloc(sizeof(int) * c->cols);
	f->x = malloc(sizeof(float) * (size_t)n * c->cols);
	f->y = malloc(sizeof(float) * n);
	f->names = calloc((size_t)c->cols, sizeof(char *));
	f->n = n;
	bool ok = false;
	if (!use || !f->x || !f->y || !f->names ||
	    !choose_columns(c, lab, drop, f, use))
		snprintf(err, err_size, "%s: out of memory", c->name);
	else if (f->d == 0)
		snprintf(err, err_size, "%s:%d: no numeric feature columns",
			 c->name, csv_line(c, -1));
	else
		ok = fill_rows(c, lab, label, use, f, err, err_size);
	free(use);
	return ok;
}
