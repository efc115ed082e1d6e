/* The binary's side (see analysis.h): features/analyze.h's functions,
 * calling through the table of libmpdrec-analysis.so, loaded by the first
 * analyser (or analyze_file) and kept: unloading it would leave what
 * FFmpeg's dependencies allocate when loaded unreachable (LeakSanitizer
 * reports it; a few kilobytes a pass). Looked for, in order:
 * $MPDREC_ANALYSIS_PLUGIN (a file), beside the binary (the build tree),
 * ../lib/mpdrec/ from the binary's folder (an installed tree), and
 * MPDREC_LIBDIR (the Makefile's $(PREFIX)/lib/mpdrec). */
#include "daemon/plugin/analysis.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef MPDREC_LIBDIR
#define MPDREC_LIBDIR "/usr/local/lib/mpdrec"
#endif

/* The plugin once loaded (a failed load is tried again by the next
 * analyser: the file may have been installed since). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const struct analysis_api *api;
static char why[1024];

/* Tries the plugin at path; true when it is loaded and of this build (else
 * why says what was wrong with it). */
static bool try_load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, sizeof why, "%s", e ? e : path);
		return false;
	}
	const struct analysis_api *(*get)(void);
	*(void **)&get = dlsym(h, ANALYSIS_PLUGIN_SYMBOL);
	const struct analysis_api *a = get ? get() : NULL;
	if (!a || a->api_version != ANALYSIS_API_VERSION ||
	    a->features != features_count() ||
	    a->features_version != FEATURES_VERSION) {
		snprintf(why, sizeof why, "%s: of another build of mpdrec "
			 "(features %d version %d; this one has %d version %d)",
			 path, a ? a->features : -1,
			 a ? a->features_version : -1, features_count(),
			 FEATURES_VERSION);
		dlclose(h);
		return false;
	}
	api = a;
	return true;
}

static void load(void)
{
	const char *env = getenv("MPDREC_ANALYSIS_PLUGIN");
	if (env && *env) {
		try_load(env);
		return;
	}
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof path, "%s/%s", exe,
				 ANALYSIS_PLUGIN_FILE);
			if (try_load(path))
				return;
			snprintf(path, sizeof path, "%s/../lib/mpdrec/%s", exe,
				 ANALYSIS_PLUGIN_FILE);
			if (try_load(path))
				return;
		}
	}
	snprintf(path, sizeof path, "%s/%s", MPDREC_LIBDIR,
		 ANALYSIS_PLUGIN_FILE);
	try_load(path);
}

/* The plugin's table, loaded if need be; NULL with err filled. */
static const struct analysis_api *plugin(char *err, size_t err_size)
{
	pthread_mutex_lock(&lock);
	if (!api)
		load();
	const struct analysis_api *a = api;
	if (!a)
		snprintf(err, err_size, "cannot load the audio analysis (%s): "
			 "%s", ANALYSIS_PLUGIN_FILE, why);
	pthread_mutex_unlock(&lock);
	return a;
}

struct analyze *analyze_new(char *err, size_t err_size)
{
	const struct analysis_api *a = plugin(err, err_size);
	return a ? a->new_analyze(err, err_size) : NULL;
}

bool analyze_run(struct analyze *an, const char *path,
		 const struct analyze_opts *o, float *out, double *duration,
		 char *err, size_t err_size)
{
	/* an came from analyze_new(): the plugin is loaded. */
	return api->run(an, path, o, out, duration, err, err_size);
}

double analyze_seconds(const struct analyze *an)
{
	return api->seconds(an);
}

void analyze_free(struct analyze *an)
{
	if (an)
		api->free_analyze(an);
}

bool analyze_file(const char *path, const struct analyze_opts *o, float *out,
		  double *duration, char *err, size_t err_size)
{
	const struct analysis_api *a = plugin(err, err_size);
	if (!a) {
		memset(out, 0, (size_t)features_count() * sizeof *out);
		return false;
	}
	return a->file(path, o, out, duration, err, err_size);
}
