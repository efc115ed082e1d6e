/* Paths: the only way from an MPD song URI to a file name. A URI is opened
 * only below music_directory: absolute paths, `..` components and URLs
 * (scheme://) are refused, with the reason. Symbolic links inside the music
 * directory are followed, as MPD follows them.
 */
#ifndef MPDREC_PATH_H
#define MPDREC_PATH_H

#include <stdbool.h>
#include <stddef.h>

/** Joins music_dir and the MPD URI uri into out (out_size bytes). Returns
 *  false, with the reason in err, when the URI is empty, absolute, a URL,
 *  has a `..` component, when music_dir is not set, or when the result does
 *  not fit. Pure: touches no file. */
bool features_resolve_uri(const char *music_dir, const char *uri, char *out,
			  size_t out_size, char *err, size_t err_size);

#endif
