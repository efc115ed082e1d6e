/* The binary's side (see analysis.h): features/analyze.h's functions,
 * calling through the table of libmpdrec-analysis.so, which is loaded while
 * an analyser (or analyze_file) needs it and unloaded after. Looked
 * for, in order: $MPDREC_ANALYSIS_PLUGIN (a file), beside the binary (the
 * build tree), ../lib/mpdrec/ from the binary's folder (an installed
 * tree), and MPDREC_LIBDIR (the Makefile's $(PREFIX)/lib/mpdrec). */
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

/* The plugin while any analyser of it is alive (users), unloaded when
 * the last is freed: a daemon goes back to its own size after a pass. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *handle;
static const struct analysis_api *api;
static int users;
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
	handle = h;
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

/* Takes the plugin for one more user: its table, or NULL with err
 * filled. */
static const struct analysis_api *take(char *err, size_t err_size)
{
	pthread_mutex_lock(&lock);
	if (!api)
		load();
	const struct analysis_api *a = api;
	if (a)
		users++;
	else
		snprintf(err, err_size, "cannot load the audio analysis (%s): "
			 "%s", ANALYSIS_PLUGIN_FILE, why);
	pthread_mutex_unlock(&lock);
	return a;
}

/* Gives back one user's hold; the last unloads the plugin (and the
 * libraries it alone needed). */
static void give_back(void)
{
	pthread_mutex_lock(&lock);
	if (--users == 0) {
		api = NULL;
		dlclose(handle);
		handle = NULL;
	}
	pthread_mutex_unlock(&lock);
}

struct analyze *analyze_new(char *err, size_t err_size)
{
	const struct analysis_api *a = take(err, err_size);
	struct analyze *an = a ? a->new_analyze(err, err_size) : NULL;
	if (a && !an)
		give_back();
	return an;
}

bool analyze_run(struct analyze *an, const char *path,
		 const struct analyze_opts *o, float *out, double *duration,
		 char *err, size_t err_size)
{
	/* an came from analyze_new(): the plugin is held. */
	return api->run(an, path, o, out, duration, err, err_size);
}

double analyze_seconds(const struct analyze *an)
{
	return api->seconds(an);
}

void analyze_free(struct analyze *an)
{
	if (!an)
		return;
	api->free_analyze(an);
	give_back();
}

bool analyze_file(const char *path, const struct analyze_opts *o, float *out,
		  double *duration, char *err, size_t err_size)
{
	const struct analysis_api *a = take(err, err_size);
	if (!a) {
		memset(out, 0, (size_t)features_count() * sizeof *out);
		return false;
	}
	bool ok = a->file(path, o, out, duration, err, err_size);
	give_back();
	return ok;
}
