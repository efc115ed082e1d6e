/* The library's flat copy, library.cache beside the store: what
 * store_load_library_with() read from SQLite, in one file that the next
 * load maps instead of reading a million rows again (issue 18.4). Internal
 * to the store: store.c decides when to read and write it, and checks the
 * store's library generation against the file's.
 *
 * The file holds a header, the strings' offsets, the per-track arrays, the
 * strings, and, page-aligned at the end, the feature matrix. It is derived
 * data: a file that is absent, of another generation, of another build's
 * layout, cut short or changed on disk (a checksum over all of it) is not
 * used, and the library is read from SQLite as before.
 */
#ifndef MPDREC_LIBCACHE_H
#define MPDREC_LIBCACHE_H

#include "core/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Writes lib (borrowed; loaded with titles iff lib->title, tags iff
 *  lib->album) as the cache of generation `gen` of the store's library for
 *  features `version` to path, through a temporary file renamed into place
 *  (mode 600: URIs are the user's), locked while written. Returns true
 *  when written, or when another process holds the lock (it is writing
 *  the file at that moment); false with err filled, and no file left
 *  behind, when the write failed. */
bool libcache_write(const char *path, const struct store_library *lib,
		    int version, uint64_t gen, char *err, size_t err_size);

/** The library of the cache at path when it is whole and holds generation
 *  `gen` of `version` with `dim` features and what `flags` asks for
 *  (titles, tags; never sorted); NULL otherwise, with why in err (empty
 *  when the file is absent). The library maps the file: its strings and
 *  arrays live there until the first append moves the arrays to the heap
 *  (see store_library's map). The caller frees it with
 *  store_library_free(). */
struct store_library *libcache_read(const char *path, int version, int dim,
				    unsigned flags, uint64_t gen, char *err,
				    size_t err_size);

/** Moves the arrays of a mapped library (album, genre, duration, x,
 *  banned) to the heap with room for `cap` tracks and unmaps the feature
 *  matrix's pages; the strings stay mapped. Returns false when out of
 *  memory (lib unchanged). */
bool libcache_detach(struct store_library *lib, int cap);

#endif
