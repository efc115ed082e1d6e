#include "core/affinity.h"
#include "core/util.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { KIND_FOLDER, KIND_ARTIST, KIND_ALBUM, KIND_GENRE };
enum chain { CHAIN_FOLDER, CHAIN_TAG, CHAIN_GENRE };

static const char *const kind_words[] = { "in folder", "by", "on album",
					  "in genre" };

/* Text of the last track's folder or tags and its group: a library in
 * path order mostly repeats them from one track to the next. */
struct memo {
	char *text;
	size_t cap;
	int group;		/* -2: none yet */
};

/* The groups' keys and names, packed in blocks the affinity owns (a
 * million tracks make some 200,000 groups: two mallocs each cost more than
 * the text). */
struct text_block {
	struct text_block *next;
	size_t used, size;
	char data[];
};
#define TEXT_BLOCK 65536

struct affinity {
	int n;
	int32_t *chain[3];	/* n each: innermost group, -1 none */
	/* groups: a parent always comes before its children */
	int groups, cap;
	char **key;		/* kind letter + name (tags lower case) */
	char **name;		/* as first seen, for people (may share
				   the key's text) */
	struct text_block *texts;	/* where both live */
	int32_t *parent;	/* -1: the overall rate */
	int32_t *artist_of;	/* the artist group of an artist (itself)
				   or an album (its parent), else -1: a
				   track's artist is its tag group's */
	unsigned char *kind;
	float *liked, *heard;	/* weighted counts, own and below */
	int32_t *n_liked, *n_heard;	/* event counts, for words */
	int32_t *members;	/* tracks with it as artist or innermost */
	float *rate;		/* shrunk like rate */
	float *odds;		/* 3 per group: the odds factor for a
				   track of 1, 2 or 3 chains */
	float *snap;		/* odds at affinity_snapshot(), or NULL */
	unsigned long version;	/* affinity_add() calls */
	unsigned long snap_version;
	struct util_index index;	/* key -> group */
	char *key_buf;		/* scratch for keys */
	size_t key_cap;
	struct memo memo[4];	/* last folder, artist, album, genre */
	double all_liked, all_heard;
	double prior;
	bool dirty;
};

static bool grow_to(struct affinity *a, int cap);

struct affinity *affinity_new(int n)
{
	assert(n >= 0);
	struct affinity *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->n = n;
	for (int k = 0; k < 4; k++)
		a->memo[k].group = -2;
	size_t m = (size_t)(n ? n : 1);
	for (int c = 0; c < 3; c++) {
		a->chain[c] = malloc(m * sizeof *a->chain[c]);
		if (!a->chain[c])
			goto fail;
		for (int i = 0; i < n; i++)
			a->chain[c][i] = -1;
	}
	/* A library in folders of albums makes some n / 4 groups: room for
	 * them at once, not by doubling (each doubling copied every array
	 * and rehashed every key; untouched room costs no memory). */
	if (!grow_to(a, n / 4 > 256 ? n / 4 : 256))
		goto fail;
	a->prior = 0.5;
	return a;
fail:
	affinity_free(a);
	return NULL;
}

void affinity_free(struct affinity *a)
{
	if (!a)
		return;
	for (int c = 0; c < 3; c++)
		free(a->chain[c]);
	for (struct text_block *b = a->texts, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a->key);
	free(a->name);
	free(a->parent);
	free(a->artist_of);
	free(a->kind);
	free(a->liked);
	free(a->heard);
	free(a->n_liked);
	free(a->n_heard);
	free(a->members);
	free(a->rate);
	free(a->odds);
	free(a->snap);
	free(a->key_buf);
	for (int k = 0; k < 4; k++)
		free(a->memo[k].text);
	util_index_free(&a->index);
	free(a);
}

#define GROW(p, cap) do {						\
		void *q_ = realloc((p), (size_t)(cap) * sizeof *(p));	\
		if (!q_)						\
			return false;					\
		(p) = q_;						\
	} while (0)

/* Room for `cap` groups (at least): the arrays and the key index. */
static bool grow_to(struct affinity *a, int cap)
{
	GROW(a->key, cap);
	GROW(a->name, cap);
	GROW(a->parent, cap);
	GROW(a->artist_of, cap);
	GROW(a->kind, cap);
	GROW(a->liked, cap);
	GROW(a->heard, cap);
	GROW(a->n_liked, cap);
	GROW(a->n_heard, cap);
	GROW(a->members, cap);
	GROW(a->rate, cap);
	void *o = realloc(a->odds, (size_t)cap * 3 * sizeof *a->odds);
	if (!o)
		return false;
	a->odds = o;
	a->cap = cap;
	return util_index_reserve(&a->index, a->key, (size_t)cap);
}

static bool grow(struct affinity *a)
{
	return a->groups < a->cap || grow_to(a, a->cap ? 2 * a->cap : 256);
}

/* A copy of s in a's blocks; NULL when out of memory. */
static char *keep_text(struct affinity *a, const char *s)
{
	size_t len = strlen(s) + 1;
	struct text_block *b = a->texts;
	if (!b || b->size - b->used < len) {
		size_t size = len > TEXT_BLOCK ? len : TEXT_BLOCK;
		if (!(b = malloc(sizeof *b + size)))
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = a->texts;
		a->texts = b;
	}
	char *d = memcpy(b->data + b->used, s, len);
	b->used += len;
	return d;
}

/* The group with this key, made (with its parent and name) if new; -1 when
 * out of memory. `key` is modified by nothing and copied when kept. */
static int intern(struct affinity *a, const char *key, const char *name,
		  int parent, enum kind kind)
{
	int g = a->groups ? util_index_find(&a->index, a->key, key) : -1;
	if (g >= 0)
		return g;
	if (!grow(a))
		return -1;
	g = a->groups;
	/* A folder's name is its key without the kind letter, and so is
	 * a tag written in lower case. */
	a->key[g] = keep_text(a, key);
	a->name[g] = !a->key[g] ? NULL : !strcmp(key + 1, name) ?
		a->key[g] + 1 : keep_text(a, name);
	if (!a->key[g] || !a->name[g])
		return -1;
	a->parent[g] = parent;
	a->artist_of[g] = kind == KIND_ARTIST ? g :
			  kind == KIND_ALBUM ? parent : -1;
	a->kind[g] = (unsigned char)kind;
	a->liked[g] = a->heard[g] = 0;
	a->n_liked[g] = a->n_heard[g] = 0;
	a->members[g] = 0;
	a->rate[g] = (float)a->prior;
	a->odds[3 * g] = a->odds[3 * g + 1] = a->odds[3 * g + 2] = 1.0f;
	a->groups++;
	if (!util_index_add(&a->index, a->key, g)) {
		a->groups--;
		return -1;
	}
	return g;
}

static bool memo_is(const struct memo *m, const char *a, const char *b)
{
	if (m->group == -2 || !m->text)
		return false;
	size_t la = strlen(a);
	return !strncmp(m->text, a, la) && m->text[la] == '\x1f' &&
	       !strcmp(m->text + la + 1, b ? b : "");
}

static bool memo_set(struct memo *m, const char *a, const char *b, int group)
{
	size_t need = strlen(a) + strlen(b ? b : "") + 2;
	if (need > m->cap) {
		char *t = realloc(m->text, need);
		if (!t)
			return false;
		m->text = t;
		m->cap = need;
	}
	snprintf(m->text, need, "%s\x1f%s", a, b ? b : "");
	m->group = group;
	return true;
}

/* Writes "<letter><lower-case s>" (or "<letter><lower-case
 * prefix>\x1f<lower-case s>") into a->key_buf; NULL when out of memory. */
static char *tag_key(struct affinity *a, char letter, const char *prefix,
		     const char *s)
{
	size_t lp = prefix ? strlen(prefix) + 1 : 0, ls = strlen(s);
	if (lp + ls + 2 > a->key_cap) {
		char *k = realloc(a->key_buf, lp + ls + 2);
		if (!k)
			return NULL;
		a->key_buf = k;
		a->key_cap = lp + ls + 2;
	}
	char *k = a->key_buf;
	k[0] = letter;
	for (size_t i = 0; prefix && i + 1 < lp; i++)
		k[1 + i] = (char)tolower((unsigned char)prefix[i]);
	if (prefix)
		k[lp] = '\x1f';
	for (size_t i = 0; i < ls; i++)
		k[1 + lp + i] = (char)tolower((unsigned char)s[i]);
	k[1 + lp + ls] = '\0';
	return k;
}

static bool is_set(const char *s)
{
	return s && *s;
}

/* The innermost folder group of uri, made with its parents if new. */
static int folder_of(struct affinity *a, const char *uri)
{
	const char *slash = strrchr(uri, '/');
	if (!slash || slash == uri)
		return -1;
	size_t dir = (size_t)(slash - uri);
	struct memo *m = &a->memo[0];
	if (m->group != -2 && m->text && !strncmp(m->text, uri, dir) &&
	    m->text[dir] == '\0')
		return m->group;
	if (dir + 2 > a->key_cap) {
		char *k = realloc(a->key_buf, dir + 2);
		if (!k)
			return -3;
		a->key_buf = k;
		a->key_cap = dir + 2;
	}
	char *key = a->key_buf;
	key[0] = 'f';
	int parent = -1;
	for (size_t k = 1; k <= dir; k++) {
		if (k < dir && uri[k] != '/')
			continue;
		memcpy(key + 1, uri, k);
		key[1 + k] = '\0';
		parent = intern(a, key, key + 1, parent, KIND_FOLDER);
		if (parent < 0)
			return -3;
	}
	if (dir + 1 > m->cap) {
		char *t = realloc(m->text, dir + 1);
		if (!t)
			return -3;
		m->text = t;
		m->cap = dir + 1;
	}
	memcpy(m->text, uri, dir);
	m->text[dir] = '\0';
	m->group = parent;
	return parent;
}

bool affinity_set_track(struct affinity *a, int i, const char *uri,
			const char *artist, const char *album,
			const char *genre)
{
	assert(i >= 0 && i < a->n && uri);
	/* Folders: one group per level of the path. */
	int folder = folder_of(a, uri);
	if (folder == -3)
		return false;
	a->chain[CHAIN_FOLDER][i] = folder;
	if (folder >= 0)
		a->members[folder]++;
	/* Artist, then the album under it (an album of no artist stands
	 * alone). */
	const char *ar = is_set(artist) ? artist : "";
	int art = -1, tag = -1;
	if (*ar && memo_is(&a->memo[1], ar, NULL)) {
		art = a->memo[1].group;
	} else if (*ar) {
		char *k = tag_key(a, 'a', NULL, ar);
		art = k ? intern(a, k, ar, -1, KIND_ARTIST) : -1;
		if (art < 0 || !memo_set(&a->memo[1], ar, NULL, art))
			return false;
	}
	tag = art;
	if (is_set(album) && memo_is(&a->memo[2], ar, album)) {
		tag = a->memo[2].group;
	} else if (is_set(album)) {
		char *k = tag_key(a, 'b', ar, album);
		tag = k ? intern(a, k, album, art, KIND_ALBUM) : -1;
		if (tag < 0 || !memo_set(&a->memo[2], ar, album, tag))
			return false;
	}
	a->chain[CHAIN_TAG][i] = tag;
	if (art >= 0)
		a->members[art]++;
	if (tag >= 0 && tag != art)
		a->members[tag]++;
	if (is_set(genre)) {
		int g;
		if (memo_is(&a->memo[3], genre, NULL)) {
			g = a->memo[3].group;
		} else {
			char *k = tag_key(a, 'g', NULL, genre);
			g = k ? intern(a, k, genre, -1, KIND_GENRE) : -1;
			if (g < 0 || !memo_set(&a->memo[3], genre, NULL, g))
				return false;
		}
		a->chain[CHAIN_GENRE][i] = g;
		a->members[g]++;
	}
	a->dirty = true;
	return true;
}

void affinity_add(struct affinity *a, int i, int label, double w)
{
	assert(i >= 0 && i < a->n && (label == 0 || label == 1) && w > 0);
	for (int c = 0; c < 3; c++) {
		for (int g = a->chain[c][i]; g >= 0; g = a->parent[g]) {
			a->liked[g] += (float)(w * label);
			a->heard[g] += (float)w;
			a->n_liked[g] += label;
			a->n_heard[g]++;
		}
	}
	a->all_liked += w * label;
	a->all_heard += w;
	a->dirty = true;
	a->version++;
}

static double logit(double p)
{
	return log(p / (1.0 - p));
}

void affinity_update(struct affinity *a)
{
	if (!a->dirty)
		return;
	a->dirty = false;
	double p0 = (a->all_liked + 1.0) / (a->all_heard + 2.0);
	a->prior = p0;
	double l0 = logit(p0);
	/* Parents first (they were made first): a group without events of
	 * its own takes its parent's rate as it is. A track's chains share
	 * its evidence equally: each counts 1/C of its log odds ratio for a
	 * track of C chains (a song without tags goes by its folders in
	 * full). */
	for (int g = 0; g < a->groups; g++) {
		int p = a->parent[g];
		double up = p < 0 ? p0 : a->rate[p];
		float *o = &a->odds[3 * g];
		if (a->heard[g] <= 0) {
			a->rate[g] = (float)up;
			for (int c = 0; c < 3; c++)
				o[c] = p < 0 ? 1.0f : a->odds[3 * p + c];
			continue;
		}
		double r = (a->liked[g] + AFFINITY_PRIOR * up) /
			   (a->heard[g] + AFFINITY_PRIOR);
		a->rate[g] = (float)r;
		double dev = logit(r) - l0;
		for (int c = 0; c < 3; c++)
			o[c] = (float)exp(dev / (c + 1));
	}
}

bool affinity_snapshot(struct affinity *a)
{
	if (!a->snap) {
		a->snap = malloc((size_t)(a->groups ? a->groups : 1) * 3 *
				 sizeof *a->snap);
		if (!a->snap)
			return false;
	}
	memcpy(a->snap, a->odds, (size_t)a->groups * 3 * sizeof *a->snap);
	a->snap_version = a->version;
	return true;
}

unsigned long affinity_version(const struct affinity *a)
{
	return a->version;
}

bool affinity_snapshot_current(const struct affinity *a)
{
	return a->snap && a->snap_version == a->version;
}

double affinity_prior(const struct affinity *a)
{
	return a->prior;
}

void affinity_view(const struct affinity *a, struct affinity_view *v)
{
	for (int c = 0; c < 3; c++)
		v->chain[c] = a->chain[c];
	v->artist_of = a->artist_of;
	v->odds = a->odds;
	v->snap = a->snap;
	v->groups = a->groups;
}

int affinity_members(const struct affinity *a, int g)
{
	assert(g >= 0 && g < a->groups);
	return a->members[g];
}

int affinity_artist(const struct affinity *a, int i)
{
	assert(i >= 0 && i < a->n);
	int t = a->chain[CHAIN_TAG][i];
	return t >= 0 ? a->artist_of[t] : -1;
}

bool affinity_describe(const struct affinity *a, int i, char *buf,
		       size_t size)
{
	assert(i >= 0 && i < a->n);
	buf[0] = '\0';
	/* The group furthest from the overall rate among those with events
	 * of their own, innermost first on a tie. */
	int best = -1;
	double best_d = -1;
	for (int c = 0; c < 3; c++) {
		for (int g = a->chain[c][i]; g >= 0; g = a->parent[g]) {
			if (a->n_heard[g] == 0)
				continue;
			double d = fabs(logit(a->rate[g]) - logit(a->prior));
			if (d > best_d) {
				best_d = d;
				best = g;
			}
		}
	}
	if (best < 0)
		return false;
	int liked = a->n_liked[best], heard = a->n_heard[best];
	snprintf(buf, size, "you liked %d of %d song%s %s %s", liked, heard,
		 heard == 1 ? "" : "s", kind_words[a->kind[best]],
		 a->name[best]);
	return true;
}
