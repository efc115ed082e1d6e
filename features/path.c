#include "features/path.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://". */
static bool is_url(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' ||
	       *s == '.')
		s++;
	return strncmp(s, "://", 3) == 0;
}

static bool has_dotdot(const char *s)
{
	while (*s) {
		const char *end = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		if (!end)
			break;
		s = end + 1;
	}
	return false;
}

bool features_resolve_uri(const char *music_dir, const char *uri, char *out,
			  size_t out_size, char *err, size_t err_size)
{
	if (out_size)
		out[0] = '\0';
	if (!music_dir || !*music_dir) {
		snprintf(err, err_size, "music_directory is not set");
		return false;
	}
	if (!uri || !*uri) {
		snprintf(err, err_size, "empty URI");
		return false;
	}
	if (is_url(uri)) {
		snprintf(err, err_size, "refused: a URL, not a file below "
					"music_directory");
		return false;
	}
	if (uri[0] == '/') {
		snprintf(err, err_size, "refused: an absolute path");
		return false;
	}
	if (has_dotdot(uri)) {
		snprintf(err, err_size, "refused: a '..' component would leave "
					"music_directory");
		return false;
	}
	size_t dl = strlen(music_dir);
	while (dl > 1 && music_dir[dl - 1] == '/')
		dl--;
	int n = snprintf(out, out_size, "%.*s/%s", (int)dl, music_dir, uri);
	if (n < 0 || (size_t)n >= out_size) {
		if (out_size)
			out[0] = '\0';
		snprintf(err, err_size, "path too long");
		return false;
	}
	return true;
}
