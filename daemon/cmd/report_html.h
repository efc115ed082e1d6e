/* The HTML report: one self-contained page (inline SVG and CSS, no script,
 * nothing fetched) drawn from the store: the learning curve of the full
 * retrains, how exploratory picks fared against exploiting ones, a PCA map
 * of the library coloured by the latest label of each track, and the
 * correlation matrix of the features with likes. Every string that comes
 * from the store (URIs, tags) is escaped.
 *
 * The arithmetic behind the plots (correlation, PCA) lives in core/metrics.
 */
#ifndef MPDREC_REPORT_HTML_H
#define MPDREC_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct store;

/** Writes s to f with HTML's special characters escaped (& < > " ' become
 *  entities; control characters other than tab and newline become U+FFFD),
 *  so the result is safe in element text and in quoted attributes. NULL
 *  writes nothing. */
void report_html_escape(FILE *f, const char *s);

/** Writes the whole report of the store's contents to f as one HTML page
 *  dated `now` (epoch seconds). The store is only read. A fresh store gives a
 *  page that says there is nothing yet. Returns false with the reason in err
 *  on a database error or when out of memory; errors writing to f are the
 *  caller's to check (ferror, fclose). */
bool report_html_write(FILE *f, struct store *s, double now, char *err,
		       size_t err_size);

#endif
