/* The analysis (features/analyze.h) as a plugin: libmpdrec-analysis.so holds
 * it with FFmpeg and aubio behind it, and the mpdrec binary loads it on its
 * first analysis. A daemon whose library is analysed (the usual case after
 * the first day) never maps the ~200 libraries FFmpeg pulls in: 32 MB of
 * its resident memory at any library size (issue 18.3).
 *
 * The binary's analyze_new(), analyze_run(), analyze_seconds(),
 * analyze_free() and analyze_file() (daemon/plugin/analysis.c) load the
 * plugin (once, for the life of the process) and call through this table;
 * tests and benches link features/analyze.c directly.
 */
#ifndef MPDREC_PLUGIN_ANALYSIS_H
#define MPDREC_PLUGIN_ANALYSIS_H

#include "features/analyze.h"

#define ANALYSIS_PLUGIN_FILE "libmpdrec-analysis.so"
#define ANALYSIS_PLUGIN_SYMBOL "mpdrec_analysis_api"
/* Bumped when the table below changes. */
#define ANALYSIS_API_VERSION 1

struct analysis_api {
	int api_version;	/* ANALYSIS_API_VERSION of the plugin's build */
	int features;		/* its features_count() */
	int features_version;	/* its FEATURES_VERSION */
	struct analyze *(*new_analyze)(char *err, size_t err_size);
	bool (*run)(struct analyze *a, const char *path,
		    const struct analyze_opts *o, float *out,
		    double *duration, char *err, size_t err_size);
	double (*seconds)(const struct analyze *a);
	void (*free_analyze)(struct analyze *a);
	bool (*file)(const char *path, const struct analyze_opts *o,
		     float *out, double *duration, char *err,
		     size_t err_size);
};

/** The plugin's table (static, never NULL): the one symbol the plugin
 *  exports. */
const struct analysis_api *mpdrec_analysis_api(void);

#endif
