/* RFC 4180 CSV reading: see csv.h. */
#include "core/csv.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct csv *csv_parse(const char *s, size_t len, const char *name, char *err,
		      size_t err_size)
{
	struct csv *c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(name))) {
		free(c);
		snprintf(err, err_size, "%s: out of memory", name);
		return NULL;
	}
	size_t i = 0;
	int line = 1;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;		/* UTF-8 byte order mark */
	int record = 0;		/* records so far, the header being 0 */
	while (i < len) {
		/* Skip blank lines between records. */
		if (s[i] == '\n' || s[i] == '\r') {
			if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
				i++;
			i++;
			line++;
			continue;
		}
		int start_line = line, fields = 0;
		if (!push_line(c, record, start_line))
			goto oom;
		for (;;) {	/* one field per turn */
			size_t start = c->text_len;
			if (i < len && s[i] == '"') {
				int quote_line = line;
				i++;
				for (;;) {
					if (i >= len) {
						snprintf(err, err_size,
							 "%s:%d: unterminated "
							 "quoted field", name,
							 quote_line);
						goto fail;
					}
					if (s[i] == '"') {
						if (i + 1 < len &&
						    s[i + 1] == '"') {
							i += 2;
							if (!push_char(c, '"'))
								goto oom;
							continue;
						}
						i++;
						break;
					}
					if (s[i] == '\0')
						goto nul;
					if (s[i] == '\n')
						line++;
					if (!push_char(c, s[i++]))
						goto oom;
				}
				if (i < len && s[i] != ',' && s[i] != '\n' &&
				    s[i] != '\r') {
					snprintf(err, err_size,
						 "%s:%d: text after the closing "
						 "quote of a field", name, line);
					goto fail;
				}
			} else {
				while (i < len && s[i] != ',' && s[i] != '\n' &&
				       s[i] != '\r') {
					if (s[i] == '"') {
						snprintf(err, err_size,
							 "%s:%d: quote inside "
							 "an unquoted field "
							 "(quote the whole "
							 "field and double the "
							 "quote)", name, line);
						goto fail;
					}
					if (s[i] == '\0')
						goto nul;
					if (!push_char(c, s[i++]))
						goto oom;
				}
			}
			if (!push_char(c, '\0') || !push_cell(c, start))
				goto oom;
			fields++;
			if (i < len && s[i] == ',') {
				i++;
				continue;
			}
			break;	/* end of record: line end or end of text */
		}
		if (i < len) {	/* consume the line end */
			if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
				i++;
			i++;
			line++;
		}
		if (record == 0) {
			c->cols = fields;
		} else if (fields != c->cols) {
			snprintf(err, err_size,
				 "%s:%d: %d field%s, the header has %d", name,
				 start_line, fields, fields == 1 ? "" : "s",
				 c->cols);
			goto fail;
		}
		record++;
	}
	if (record == 0) {
		snprintf(err, err_size, "%s:1: empty file (no header line)",
			 name);
		goto fail;
	}
	c->rows = record - 1;
	return c;
nul:
	snprintf(err, err_size, "%s:%d: NUL byte: not a text file", name, line);
	goto fail;
oom:
	snprintf(err, err_size, "%s: out of memory", name);
fail:
	csv_free(c);
	return NULL;
}

struct csv *csv_read(const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			char *t = realloc(buf, cap);
			if (!t) {
				free(buf);
				fclose(f);
				snprintf(err, err_size, "%s: out of memory",
					 path);
				return NULL;
			}
			buf = t;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
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

bool csv_features(const struct csv *c, const char *label, const char *drop,
		  struct csv_features *f, char *err, size_t err_size)
{
	memset(f, 0, sizeof(*f));
	const char *name = c->name;
	int hl = csv_line(c, -1);
	int lab = find_column(c, label);
	if (lab < 0) {
		snprintf(err, err_size, "%s:%d: no column named '%s'", name,
			 hl, label);
		return false;
	}
	/* Every --drop name must exist: a typo would silently keep it. */
	if (drop)
		for (const char *p = drop; *p;) {
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
				snprintf(err, err_size,
					 "%s:%d: --drop: no column named "
					 "'%s'", name, hl, a);
				return false;
			}
			p += len;
			if (*p == ',')
				p++;
		}
	if (c->rows < 1) {
		snprintf(err, err_size, "%s:%d: no data rows after the header",
			 name, hl + 1);
		return false;
	}
	int n = c->rows;
	int *use = malloc(sizeof(int) * c->cols);
	f->x = malloc(sizeof(float) * (size_t)n * c->cols);
	f->y = malloc(sizeof(float) * n);
	f->names = calloc((size_t)c->cols, sizeof(char *));
	if (!use || !f->x || !f->y || !f->names)
		goto oom;
	int d = 0;
	for (int j = 0; j < c->cols; j++) {
		const char *h = csv_header(c, j);
		if (j == lab || in_list(drop, h))
			continue;
		if (j == 0 && *h == '\0') {
			if (!add_note(f, "left out the unnamed leading column "
				      "(an index)"))
				goto oom;
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
				goto oom;
			continue;
		}
		use[d] = j;
		char fallback[32];
		snprintf(fallback, sizeof fallback, "column %d", j + 1);
		if (!(f->names[d] = strdup(*h ? h : fallback)))
			goto oom;
		d++;
	}
	f->d = d;
	f->n = n;
	if (d == 0) {
		snprintf(err, err_size, "%s:%d: no numeric feature columns",
			 name, hl);
		return free(use), false;
	}
	for (int i = 0; i < n; i++) {
		int line = csv_line(c, i);
		double v;
		const char *s = csv_cell(c, i, lab);
		if (!csv_number(s, &v) || (v != 0 && v != 1)) {
			snprintf(err, err_size,
				 "%s:%d: label '%s' is '%s', expected 0 or 1",
				 name, line, label, s);
			return free(use), false;
		}
		f->y[i] = (float)v;
		for (int k = 0; k < d; k++) {
			s = csv_cell(c, i, use[k]);
			if (!csv_number(s, &v)) {
				snprintf(err, err_size,
					 "%s:%d: column '%s': %s%s%s is not a "
					 "number", name, line, f->names[k],
					 *s ? "'" : "", *s ? s : "empty value",
					 *s ? "'" : "");
				return free(use), false;
			}
			f->x[(size_t)i * d + k] = (float)v;
		}
	}
	free(use);
	return true;
oom:
	free(use);
	snprintf(err, err_size, "%s: out of memory", name);
	return false;
}
