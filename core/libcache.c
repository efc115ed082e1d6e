/* library.cache: see libcache.h. Why a file of its own beside SQLite: a
 * million rows read through SQLite cost a second (text columns, the blob
 * copied into freshly zeroed pages), while a mapped file of the same data
 * is in the page cache already and needs no copy: `mpdrec recommend` and
 * a daemon's start on a large library read it in a fraction of that. */
#include "core/libcache.h"
#include "core/tempfile.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "MPDRLIB"
#define ORDER 0x01020304u
/* Bumped whenever the file's layout changes. */
#define LAYOUT 2u	/* 2: the eight-lane checksum */
#define NONE UINT32_MAX
#define PAGE 4096u

/* The ban flags are written and mapped as they are in memory. */
_Static_assert(sizeof(bool) == 1, "a bool is one byte");

enum { HAS_TITLES = 1, HAS_TAGS = 2 };

struct head {
	char magic[8];
	uint32_t order;		/* ORDER in the writer's byte order */
	uint32_t layout;
	uint32_t version;	/* FEATURES_VERSION of the vectors */
	uint32_t dim;
	uint32_t flags;		/* HAS_TITLES, HAS_TAGS */
	uint32_t pad;
	uint64_t gen;		/* the store's library generation */
	uint64_t n, n_tags;
	uint64_t strings;	/* bytes of strings */
	uint64_t x_off;		/* where the feature matrix begins */
	uint64_t size;		/* of the whole file */
	uint64_t sum;		/* of every byte after the header */
};

/* Where each section begins, from the counts alone. */
struct layout {
	size_t uri, artist, title, tag, album, genre, duration, banned,
	       strings, x, size;
};

static size_t align8(size_t v)
{
	return (v + 7) & ~(size_t)7;
}

static void plan(struct layout *p, size_t n, size_t n_tags, size_t strings,
		 size_t dim, unsigned flags)
{
	size_t at = sizeof(struct head);
	p->uri = at;
	at = align8(at + n * 4);
	p->artist = at;
	at = align8(at + n * 4);
	p->title = at;
	if (flags & HAS_TITLES)
		at = align8(at + n * 4);
	p->tag = at;
	at = align8(at + n_tags * 4);
	p->album = at;
	p->genre = at + ((flags & HAS_TAGS) ? n * 4 : 0);
	if (flags & HAS_TAGS)
		at = align8(at + 2 * n * 4);
	p->duration = at;
	at = align8(at + n * 4);
	p->banned = at;
	at = align8(at + n);
	p->strings = at;
	at += strings;
	/* Page-aligned: a detach unmaps the matrix's pages alone. */
	p->x = (at + PAGE - 1) & ~(size_t)(PAGE - 1);
	p->size = align8(p->x + n * dim * sizeof(float));
}

/* The checksum of a file's bytes after the header, taken as 64-bit words
 * in eight lanes (word i in lane i % 8): a torn or changed file, not an
 * adversary (the file is the user's own). A lane adds its word and folds
 * its high bits down: both steps undo, so a lane whose words differ in one
 * place ends different, and the lanes are eight independent sums the
 * compiler runs in vector registers (the four multiplying lanes before
 * took 120 ms over a million tracks' file, this 20). */
#define LANES 8
struct sum {
	uint64_t lane[LANES];
	uint64_t words;
};

static void sum_init(struct sum *c)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int j = 0; j < LANES; j++)
		c->lane[j] = util_rand_u64(&seed);
	c->words = 0;
}

static uint64_t lane_step(uint64_t s, uint64_t w)
{
	s += w;
	return s ^ (s >> 29);
}

/* Adds n bytes (a multiple of 8). */
static void sum_add(struct sum *c, const unsigned char *p, size_t n)
{
	size_t words = n / 8, i = 0;
	for (; i < words && (c->words + i) % LANES; i++) {
		uint64_t w;
		memcpy(&w, p + i * 8, 8);
		uint64_t *s = &c->lane[(c->words + i) % LANES];
		*s = lane_step(*s, w);
	}
	uint64_t s[LANES];
	memcpy(s, c->lane, sizeof s);
	for (; i + LANES <= words; i += LANES) {
		uint64_t w[LANES];
		memcpy(w, p + i * 8, sizeof w);
		for (int j = 0; j < LANES; j++)
			s[j] = lane_step(s[j], w[j]);
	}
	memcpy(c->lane, s, sizeof s);
	for (; i < words; i++) {
		uint64_t w;
		memcpy(&w, p + i * 8, 8);
		uint64_t *l = &c->lane[(c->words + i) % LANES];
		*l = lane_step(*l, w);
	}
	c->words += words;
}

/* The lanes folded into one: each multiplies through, so one lane that
 * differs makes the whole differ. */
static uint64_t sum_end(const struct sum *c)
{
	uint64_t h = c->words;
	for (int j = 0; j < LANES; j++)
		h = (h ^ c->lane[j]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

/* The file as it is written: in order, through a buffer, summed on the
 * way (no second read of a file of hundreds of megabytes). */
struct out {
	int fd;
	bool ok;
	size_t at;		/* bytes written or buffered */
	size_t used;
	struct sum sum;
	unsigned char buf[1 << 16];
};

static void out_flush(struct out *o)
{
	size_t done = 0;
	sum_add(&o->sum, o->buf, o->used);
	while (o->ok && done < o->used) {
		ssize_t w = write(o->fd, o->buf + done, o->used - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			o->ok = false;
		else
			done += (size_t)w;
	}
	o->used = 0;
}

static void out_bytes(struct out *o, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (o->ok && n > 0) {
		size_t k = sizeof o->buf - o->used;
		if (k > n)
			k = n;
		if (c)
			memcpy(o->buf + o->used, c, k);
		else
			memset(o->buf + o->used, 0, k);
		o->used += k;
		o->at += k;
		n -= k;
		if (c)
			c += k;
		if (o->used == sizeof o->buf)
			out_flush(o);
	}
}

/* Zeros up to offset `to`. */
static void out_pad(struct out *o, size_t to)
{
	if (to > o->at)
		out_bytes(o, NULL, to - o->at);
}

/* The offset of s among the strings (NONE for NULL), counted in *size;
 * false past what a 32-bit offset reaches. */
static bool offset_of(const char *s, uint32_t *off, size_t *size)
{
	if (!s) {
		*off = NONE;
		return true;
	}
	size_t len = strlen(s) + 1;
	if (*size + len >= NONE)
		return false;
	*off = (uint32_t)*size;
	*size += len;
	return true;
}

/* Every string of lib in the order the offsets count them: uri, artist
 * (shared with the track before when the library shares it), title, then
 * the tags. With o NULL, only the offsets and the size. */
static bool strings(const struct store_library *lib, struct out *o,
		    uint32_t *uri, uint32_t *artist, uint32_t *title,
		    uint32_t *tag, size_t *size)
{
	for (int i = 0; i < lib->n; i++) {
		bool shared = i > 0 && lib->artist[i] == lib->artist[i - 1];
		if (o) {
			out_bytes(o, lib->uri[i], strlen(lib->uri[i]) + 1);
			if (!shared && lib->artist[i])
				out_bytes(o, lib->artist[i],
					  strlen(lib->artist[i]) + 1);
			if (title && lib->title[i])
				out_bytes(o, lib->title[i],
					  strlen(lib->title[i]) + 1);
			continue;
		}
		if (!lib->uri[i] || !offset_of(lib->uri[i], &uri[i], size))
			return false;
		if (shared)
			artist[i] = artist[i - 1];
		else if (!offset_of(lib->artist[i], &artist[i], size))
			return false;
		if (title && !offset_of(lib->title[i], &title[i], size))
			return false;
	}
	for (int k = 0; tag && k < lib->n_tags; k++) {
		if (o)
			out_bytes(o, lib->tags[k], strlen(lib->tags[k]) + 1);
		else if (!offset_of(lib->tags[k], &tag[k], size))
			return false;
	}
	return true;
}

bool libcache_write(const char *path, const struct store_library *lib,
		    int version, uint64_t gen, char *err, size_t err_size)
{
	unsigned flags = (lib->title ? HAS_TITLES : 0) |
			 (lib->album ? HAS_TAGS : 0);
	size_t n = (size_t)lib->n, n_tags = lib->album ? (size_t)lib->n_tags
						       : 0;
	size_t text = 0;
	uint32_t *uri = malloc((n ? n : 1) * 4);
	uint32_t *artist = malloc((n ? n : 1) * 4);
	uint32_t *title = lib->title ? malloc((n ? n : 1) * 4) : NULL;
	uint32_t *tag = malloc((n_tags ? n_tags : 1) * 4);
	struct out *o = malloc(sizeof *o);
	char tmp[4200];
	bool ok = false;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (o)
		o->fd = -1;
	if (!uri || !artist || (lib->title && !title) || !tag || !o ||
	    !strings(lib, NULL, uri, artist, title, lib->album ? tag : NULL,
		     &text)) {
		snprintf(err, err_size, "out of memory, or strings past 4 GB");
		goto out;
	}
	struct layout p;
	plan(&p, n, n_tags, text, (size_t)lib->dim, flags);
	o->fd = tempfile_open(tmp);
	if (o->fd == TEMPFILE_BUSY) {
		/* Another process is keeping the same library right now. */
		o->fd = -1;
		ok = true;
		goto out;
	}
	if (o->fd < 0) {
		snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	struct head h = { .order = ORDER, .layout = LAYOUT,
			  .version = (uint32_t)version,
			  .dim = (uint32_t)lib->dim, .flags = flags,
			  .gen = gen, .n = n, .n_tags = n_tags,
			  .strings = text, .x_off = p.x, .size = p.size };
	memcpy(h.magic, MAGIC, sizeof h.magic);
	/* The header last, once the sum is known: until then the file's
	 * magic is zeros and no reader takes it. */
	o->ok = lseek(o->fd, sizeof h, SEEK_SET) == (off_t)sizeof h;
	o->at = sizeof h;
	o->used = 0;
	sum_init(&o->sum);
	out_bytes(o, uri, n * 4);
	out_pad(o, p.artist);
	out_bytes(o, artist, n * 4);
	out_pad(o, p.title);
	if (title)
		out_bytes(o, title, n * 4);
	out_pad(o, p.tag);
	out_bytes(o, tag, n_tags * 4);
	out_pad(o, p.album);
	if (lib->album) {
		out_bytes(o, lib->album, n * 4);
		out_bytes(o, lib->genre, n * 4);
	}
	out_pad(o, p.duration);
	out_bytes(o, lib->duration, n * 4);
	out_pad(o, p.banned);
	out_bytes(o, lib->banned, n);
	out_pad(o, p.strings);
	strings(lib, o, NULL, NULL, title, lib->album ? tag : NULL, &text);
	out_pad(o, p.x);
	out_bytes(o, lib->x, n * (size_t)lib->dim * sizeof(float));
	out_pad(o, p.size);
	if (o->used)
		out_flush(o);
	h.sum = sum_end(&o->sum);
	ok = o->ok && o->at == p.size &&
	     pwrite(o->fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
	if (!ok)
		snprintf(err, err_size, "%s: %s", tmp,
			 errno ? strerror(errno) : "short write");
	/* Renamed while still locked: no other writer truncates it. */
	if (ok && rename(tmp, path) != 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		ok = false;
	}
	if (ok) {
		ok = close(o->fd) == 0;
		o->fd = -1;
		if (!ok)
			snprintf(err, err_size, "%s: %s", path,
				 strerror(errno));
	}
out:
	if (o && o->fd >= 0) {
		/* Still ours (locked): gone before the lock is let go. */
		unlink(tmp);
		close(o->fd);
	}
	free(o);
	free(uri);
	free(artist);
	free(title);
	free(tag);
	return ok;
}

/* Why the file at hand cannot be used, or NULL when its header is sound. */
static const char *check_head(const struct head *h, int version, int dim,
			      unsigned want, uint64_t gen, size_t file_size,
			      struct layout *p)
{
	if (memcmp(h->magic, MAGIC, sizeof h->magic) || h->order != ORDER ||
	    h->layout != LAYOUT)
		return "another layout";
	if (h->version != (uint32_t)version || h->dim != (uint32_t)dim)
		return "other features";
	if ((h->flags & want) != want)
		return "loaded without titles or tags";
	if (h->gen != gen)
		return "the library changed since";
	if (h->n > INT32_MAX || h->n_tags > INT32_MAX ||
	    h->strings >= NONE || h->size != file_size)
		return "cut short";
	plan(p, (size_t)h->n, (size_t)h->n_tags, (size_t)h->strings,
	     (size_t)dim, h->flags);
	if (p->size != file_size || p->x != h->x_off)
		return "cut short";
	return NULL;
}

/* The string at offset o of the strings (NULL for NONE); false when past
 * them. */
static bool string_at(const char *strings, size_t size, uint32_t o,
		      char **out)
{
	if (o == NONE) {
		*out = NULL;
		return true;
	}
	if (o >= size)
		return false;
	*out = (char *)strings + o;
	return true;
}

/* Builds lib's pointer arrays over the map; false when an offset, a tag
 * number or a ban flag is out of range. */
static bool fill_library(struct store_library *lib, const unsigned char *m,
			 const struct head *h, const struct layout *p)
{
	const char *strings = (const char *)m + p->strings;
	size_t size = (size_t)h->strings;
	if (size > 0 && strings[size - 1] != '\0')
		return false;
	const uint32_t *uri = (const uint32_t *)(m + p->uri);
	const uint32_t *artist = (const uint32_t *)(m + p->artist);
	const uint32_t *title = (const uint32_t *)(m + p->title);
	const uint32_t *tag = (const uint32_t *)(m + p->tag);
	for (int k = 0; k < lib->n_tags; k++)
		if (!string_at(strings, size, tag[k], &lib->tags[k]) ||
		    !lib->tags[k])
			return false;
	const unsigned char *banned = m + p->banned;
	for (int i = 0; i < lib->n; i++) {
		if (!string_at(strings, size, uri[i], &lib->uri[i]) ||
		    !lib->uri[i] ||
		    !string_at(strings, size, artist[i], &lib->artist[i]) ||
		    (lib->title &&
		     !string_at(strings, size, title[i], &lib->title[i])) ||
		    banned[i] > 1)
			return false;
		if (lib->album &&
		    (lib->album[i] < -1 || lib->album[i] >= lib->n_tags ||
		     lib->genre[i] < -1 || lib->genre[i] >= lib->n_tags))
			return false;
	}
	return true;
}

struct store_library *libcache_read(const char *path, int version, int dim,
				    unsigned flags, uint64_t gen, char *err,
				    size_t err_size)
{
	err[0] = '\0';
	unsigned want = ((flags & STORE_LIBRARY_TITLES) ? HAS_TITLES : 0) |
			((flags & STORE_LIBRARY_TAGS) ? HAS_TAGS : 0);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			snprintf(err, err_size, "%s: %s", path,
				 strerror(errno));
		return NULL;
	}
	struct stat st;
	struct head h;
	struct layout p;
	const char *why = NULL;
	if (fstat(fd, &st) != 0 ||
	    pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
		why = "cut short";
	else
		why = check_head(&h, version, dim, want, gen,
				 (size_t)st.st_size, &p);
	unsigned char *m = MAP_FAILED;
	if (!why) {
		/* Private: the daemon's changes to a row (a ban, a refreshed
		 * vector) are its own copies of the pages. Populated while
		 * read-only, then made writable: populating a writable private
		 * map copies every page at once. */
		m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			 MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (m == MAP_FAILED)
			why = strerror(errno);
		else if (mprotect(m, (size_t)st.st_size,
				  PROT_READ | PROT_WRITE) != 0)
			why = strerror(errno);
	}
	close(fd);
	if (!why) {
		struct sum c;
		sum_init(&c);
		sum_add(&c, m + sizeof h, (size_t)st.st_size - sizeof h);
		if (sum_end(&c) != h.sum)
			why = "changed on disk";
	}
	struct store_library *lib = NULL;
	if (!why) {
		size_t n = (size_t)h.n ? (size_t)h.n : 1;
		lib = calloc(1, sizeof *lib);
		if (lib) {
			lib->n = lib->cap = (int)h.n;
			lib->dim = dim;
			lib->n_tags = lib->cap_tags = (int)h.n_tags;
			lib->uri = malloc(n * sizeof *lib->uri);
			lib->artist = malloc(n * sizeof *lib->artist);
			lib->title = want & HAS_TITLES ?
				     malloc(n * sizeof *lib->title) : NULL;
			lib->tags = malloc(((size_t)h.n_tags + 1) *
					   sizeof *lib->tags);
			if (want & HAS_TAGS) {
				lib->album = (int32_t *)(m + p.album);
				lib->genre = (int32_t *)(m + p.genre);
			}
			lib->duration = (float *)(m + p.duration);
			lib->x = (float *)(m + p.x);
			lib->banned = (bool *)(m + p.banned);
			lib->map = m;
			lib->map_size = (size_t)st.st_size;
			lib->map_x = p.x;
			lib->map_arrays = true;
			m = MAP_FAILED;
		}
		if (!lib || !lib->uri || !lib->artist || !lib->tags ||
		    ((want & HAS_TITLES) && !lib->title))
			why = "out of memory";
		else if (!fill_library(lib, lib->map, &h, &p))
			why = "an offset out of range";
	}
	if (m != MAP_FAILED)
		munmap(m, (size_t)st.st_size);
	if (why) {
		snprintf(err, err_size, "%s: %s", path, why);
		store_library_free(lib);
		return NULL;
	}
	return lib;
}

/* A heap copy of n items of `size` bytes from p, with room for cap. */
static void *moved(const void *p, size_t n, size_t cap, size_t size)
{
	void *v = malloc((cap ? cap : 1) * size);
	if (v && n)
		memcpy(v, p, n * size);
	return v;
}

bool libcache_detach(struct store_library *lib, int cap)
{
	if (!lib->map_arrays)
		return true;
	size_t n = (size_t)lib->n, c = (size_t)(cap > lib->n ? cap : lib->n);
	int32_t *album = lib->album ? moved(lib->album, n, c, 4) : NULL;
	int32_t *genre = lib->genre ? moved(lib->genre, n, c, 4) : NULL;
	float *duration = moved(lib->duration, n, c, sizeof *duration);
	float *x = moved(lib->x, n * (size_t)lib->dim, c * (size_t)lib->dim,
			 sizeof *x);
	bool *banned = moved(lib->banned, n, c, sizeof *banned);
	if ((lib->album && (!album || !genre)) || !duration || !x ||
	    !banned) {
		free(album);
		free(genre);
		free(duration);
		free(x);
		free(banned);
		return false;
	}
	lib->album = album;
	lib->genre = genre;
	lib->duration = duration;
	lib->x = x;
	lib->banned = banned;
	lib->map_arrays = false;
	lib->cap = (int)c;
	/* The matrix's pages go back; the strings stay. */
	if (lib->map_size > lib->map_x)
		munmap(lib->map + lib->map_x, lib->map_size - lib->map_x);
	lib->map_size = lib->map_x;
	return true;
}
