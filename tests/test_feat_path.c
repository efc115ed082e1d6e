/* features/path: an MPD URI is only ever turned into a file name below
 * music_directory. */
#include "features/path.h"

#include <string.h>

#include "tests/lib/harness.h"

static bool refused(const char *dir, const char *uri, const char *why)
{
	char out[64] = "x", err[128] = "";
	bool ok = features_resolve_uri(dir, uri, out, sizeof out, err,
				       sizeof err);
	CHECK_MSG(!ok, "accepted %s", uri ? uri : "(null)");
	CHECK_MSG(why == NULL || strstr(err, why) != NULL,
		  "%s: reason \"%s\" lacks \"%s\"", uri ? uri : "(null)", err,
		  why);
	CHECK_STR(out, "");
	return !ok;
}

static void test_joins_below_music_dir(void)
{
	char out[256], err[128];
	CHECK(features_resolve_uri("/music", "a/b.flac", out, sizeof out, err,
				   sizeof err));
	CHECK_STR(out, "/music/a/b.flac");
	CHECK(features_resolve_uri("/music/", "x.mp3", out, sizeof out, err,
				   sizeof err));
	CHECK_STR(out, "/music/x.mp3");
	/* Names that merely look odd are files like any other. */
	const char *fine[] = { "..hidden/a.ogg", "a/..b.ogg", "a..b/c.ogg",
			       "Artist: Title.mp3", "http/song.mp3",
			       "a/./b.flac", "weird name/ünïcode.opus" };
	for (size_t i = 0; i < sizeof fine / sizeof *fine; i++)
		CHECK_MSG(features_resolve_uri("/m", fine[i], out, sizeof out,
					       err, sizeof err),
			  "refused %s: %s", fine[i], err);
}

static void test_refuses_escapes(void)
{
	refused("/music", "../etc/passwd", "..");
	refused("/music", "a/../../etc/passwd", "..");
	refused("/music", "a/..", "..");
	refused("/music", "..", "..");
	refused("/music", "/etc/passwd", "absolute");
	refused("/music", "http://example.com/stream.mp3", "URL");
	refused("/music", "https://x/y", "URL");
	refused("/music", "file:///etc/passwd", "URL");
	refused("/music", "smb://server/share/a.flac", "URL");
	refused("/music", "", "empty");
	refused("/music", NULL, "empty");
	refused(NULL, "a.flac", "music_directory");
	refused("", "a.flac", "music_directory");
}

static void test_too_long(void)
{
	char out[16], err[128];
	CHECK(!features_resolve_uri("/music", "a-rather-long-name.flac", out,
				    sizeof out, err, sizeof err));
	CHECK(strstr(err, "too long") != NULL);
	CHECK_STR(out, "");
}

int main(void)
{
	RUN(test_joins_below_music_dir);
	RUN(test_refuses_escapes);
	RUN(test_too_long);
	return harness_finish();
}
