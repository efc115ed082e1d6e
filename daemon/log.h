/* Logging: one function behind a macro that checks the level before
 * formatting. stderr by default (journald adds the time), or a file. */
#ifndef MPDREC_LOG_H
#define MPDREC_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/** The current level; messages above it are not formatted. */
extern enum log_level log_threshold;

/** Sends messages to `path` (appending; NULL = stderr) at `level`. Returns
 *  false, leaving stderr in place, when the file cannot be opened. */
bool log_setup(enum log_level level, const char *path);

/** Whether messages go to a file rather than stderr. */
bool log_file_active(void);

/** While on, errors and warnings written to a log file go to stderr too:
 *  the daemon's start, whose failure the user at the terminal must see. */
void log_also_stderr(bool on);

/** Closes the log file, if any. */
void log_close(void);

/** Writes one line (a newline is added). Use the macros below. */
void log_write(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                      \
	do {                                                                  \
		if ((lvl) <= log_threshold)                                   \
			log_write((lvl), __VA_ARGS__);                        \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_at(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
