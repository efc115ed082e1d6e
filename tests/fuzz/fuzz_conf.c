/* libFuzzer harness: the configuration loader (conf/conf.h, conf_load).
 *
 * libconfig reads files, so each input is written over one scratch file
 * (mpdrec.conf in a private directory) and loaded from there. Whatever the
 * file holds, conf_load() must not crash; a refusal must say why and leave
 * *c zeroed; an accepted file must describe every option, keep numbers
 * within their bounds, take the MPD environment and free cleanly.
 */
#define FUZZ_SCRATCH
#include "conf/conf.h"
#include "tests/fuzz/fuzz_common.h"

#include <math.h>

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* conf_defaults() reads these; pin them so every input sees the same
	 * defaults whatever the calling shell has. */
	setenv("HOME", "/nonexistent-home", 1);
	setenv("XDG_DATA_HOME", "/nonexistent-data", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_scratch_write("mpdrec.conf", data, size);
	struct conf c;
	char err[CONF_ERR_SIZE];
	memset(&c, 0xa5, sizeof c);	/* conf_load must fill it all */
	err[0] = '\0';
	if (!conf_load(&c, path, err, sizeof err)) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		FUZZ_CHECK(strnlen(err, sizeof err) < sizeof err,
			   "error not terminated");
		FUZZ_CHECK(all_zero(&c, sizeof c),
			   "refused, but *c is not zeroed (%s)", err);
		conf_free(&c);
		return 0;
	}
	FUZZ_CHECK(c.path != NULL && strcmp(c.path, path) == 0,
		   "path '%s'", c.path ? c.path : "(null)");
	FUZZ_CHECK(c.data_directory != NULL, "no data directory");
	FUZZ_CHECK(c.model.n_hidden >= 1 && c.model.n_hidden <= CONF_MAX_HIDDEN,
		   "%d hidden layers", c.model.n_hidden);
	size_t n = conf_option_count();
	for (size_t i = 0; i < n; i++) {
		const char *name, *help;
		char value[512];
		enum conf_source src;
		FUZZ_CHECK(conf_option_describe(&c, i, &name, &help, value,
						sizeof value, &src),
			   "option %zu not described", i);
		FUZZ_CHECK(name && *name && help && *help, "option %zu", i);
		FUZZ_CHECK(conf_option_index(name) == (int)i,
			   "option '%s' not found by name", name);
		FUZZ_CHECK(strnlen(value, sizeof value) < sizeof value,
			   "value of '%s' not terminated", name);
		FUZZ_CHECK(conf_option_equal(&c, &c, i),
			   "option '%s' differs from itself", name);
		/* A number read from the file stays within its bounds. */
		double lo, hi;
		bool integer;
		if (conf_option_bounds(i, &lo, &hi, &integer) &&
		    strcmp(name, "model.hidden") != 0) {
			char *end;
			double v = strtod(value, &end);
			if (end != value)
				FUZZ_CHECK(!isfinite(v) || (v >= lo && v <= hi),
					   "%s = %s outside [%g, %g]", name,
					   value, lo, hi);
		}
	}
	for (int i = 0; i < c.model.n_hidden; i++)
		FUZZ_CHECK(c.model.hidden[i] >= 1,
			   "hidden layer %d has %d units", i,
			   c.model.hidden[i]);
	/* The environment, as the daemon applies it after loading. */
	if (!conf_apply_env(&c, "secret@fuzzhost", "6601", err, sizeof err))
		FUZZ_CHECK(err[0] != '\0', "environment refused silently");
	conf_free(&c);
	FUZZ_CHECK(all_zero(&c, sizeof c), "conf_free left *c set");
	return 0;
}
