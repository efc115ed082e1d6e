#include "daemon/watch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A restart of the same song counts as a new play when the position jumps
 * back by more than this while it was near its end. */
#define RESTART_JUMP_S 1.0
/* A position that runs ahead of the stopwatch by more than this was moved
 * by a seek forward. */
#define SEEK_JUMP_S 1.5
/* A song first seen this far in was joined late. */
#define LATE_JOIN_S 1.0
/* mpdscribble's listen: 4 minutes, or half the song. */
#define LISTEN_S 240.0

void watch_init(struct watch *w, const struct watch_rules *rules)
{
	memset(w, 0, sizeof *w);
	w->rules = *rules;
	w->song_id = -1;
	w->state = WATCH_STOP;
}

void watch_reset(struct watch *w)
{
	free(w->uri);
	free(w->judged_uri);
	struct watch_rules rules = w->rules;
	watch_init(w, &rules);
}

double watch_end_margin(double duration, double margin)
{
	double tenth = duration / 10.0;
	return margin < tenth ? margin : tenth;
}

bool watch_played_to_end(double played, double position, double duration,
			 double margin)
{
	if (duration <= 0)
		return false;
	double m = watch_end_margin(duration, margin);
	/* Reached the end, and heard all but at most twice the margin: the
	 * stopwatch starts a moment after the song does, and a seek forward
	 * past most of the track must not count as a full play. */
	return duration - position <= m && played >= duration - 2 * m;
}

bool watch_listened(double played, double duration)
{
	return duration > 0 && (played >= LISTEN_S || played >= duration / 2);
}

double watch_skip_weight(double position, double duration)
{
	if (duration <= 0)
		return 0.1;
	double share = position / duration;
	double wt = 1.0 - share;
	return wt < 0.1 ? 0.1 : wt > 1.0 ? 1.0 : wt;
}

/* Runs the stopwatch up to `now` and moves the estimated position. `pos`
 * is MPD's position now when the same song goes on, NAN when it is over.
 * A stopwatch alone counts a stalled output (a busy machine, a slow
 * network stream) as heard; no more audio can have been heard than went
 * by, so the time added is capped by the position's advance. A jump back
 * (a seek back, a restart) replays: then the wall time counts. */
static void advance(struct watch *w, double now, double pos)
{
	double dt = now - w->last_time;
	if (dt > 0 && w->state == WATCH_PLAY) {
		double heard = dt;
		if (w->duration > 0) {
			double went_by = isnan(pos) ? w->duration - w->position
						    : pos - w->position;
			if (went_by >= 0 && went_by < heard)
				heard = went_by;
		}
		w->played += heard;
		w->position += heard;
		if (w->duration > 0 && w->position > w->duration)
			w->position = w->duration;
	}
	w->last_time = now;
}

/* `o` is the observation that ended the song: a stop or a cleared queue
 * mid-song says nothing about the song. */
static void judge(const struct watch *w, const struct watch_obs *o,
		  struct watch_verdict *v)
{
	v->uri = w->uri;
	v->played = w->played;
	v->position = w->position;
	v->duration = w->duration;
	v->weight = 0;
	v->kind = WATCH_NONE;
	double m = watch_end_margin(w->duration, w->rules.end_margin);
	if (w->duration <= 0) {
		v->why = "duration unknown";
	} else if (w->duration < w->rules.min_duration) {
		v->why = "too short for feedback.min_duration";
	} else if (watch_played_to_end(w->played, w->position, w->duration,
				       w->rules.end_margin)) {
		v->kind = WATCH_LIKE;
		v->weight = 1.0;
		v->why = "played to its end";
	} else if (w->duration - w->position <= m) {
		v->why = w->seeked ? "seeked to the end" :
			 w->joined_late ? "only its end was seen playing" :
					  "reached its end without being heard";
	} else if (o->state == WATCH_STOP) {
		v->why = o->cleared ? "the queue was cleared" : "stopped";
	} else if (w->played <= 0) {
		v->why = "never heard playing";
	} else if (watch_listened(w->played, w->duration)) {
		v->why = "a listen, not a skip: half of it or 4 minutes "
			 "heard";
	} else {
		v->kind = WATCH_SKIP;
		v->weight = watch_skip_weight(w->position, w->duration);
		v->why = "skipped";
	}
}

/* Starts watching the song of observation o (if any). `heard_s`: what of
 * it counts as heard already (its elapsed time when it began after the
 * last look, else 0). */
static void follow(struct watch *w, const struct watch_obs *o,
		   double heard_s)
{
	/* The verdict's uri stays valid until the next observation. */
	free(w->judged_uri);
	w->judged_uri = w->uri;
	w->uri = NULL;
	w->song_id = -1;
	w->played = 0;
	w->position = 0;
	w->duration = 0;
	w->seeked = false;
	w->joined_late = false;
	w->state = o->state;
	w->last_time = o->now;
	if (o->state == WATCH_STOP || o->song_id < 0 || !o->uri)
		return;
	w->uri = strdup(o->uri);
	if (!w->uri)
		return;
	w->song_id = o->song_id;
	w->position = o->elapsed;
	w->duration = o->duration;
	w->played = heard_s;
	w->joined_late = o->elapsed - heard_s > LATE_JOIN_S;
}

bool watch_observe(struct watch *w, const struct watch_obs *o,
		   struct watch_verdict *v)
{
	bool goes_on = w->song_id >= 0 && o->song_id == w->song_id &&
		       o->state != WATCH_STOP;
	/* When another song is playing, it began at now minus its elapsed
	 * time. If that is after the last look, the daemon looked late (a
	 * loaded machine, a stall): the watched song ended as the new one
	 * began, so a skip after half a second stays a skip, and the new one
	 * has been heard since it began, so a song that began during a stall
	 * and then plays to its end is a full play. A daemon that has just
	 * started (or reconnected) did not look before: it counts only what
	 * it sees. */
	double end = o->now, heard = 0;
	if (w->looking && !goes_on && o->state == WATCH_PLAY &&
	    o->song_id >= 0 && o->elapsed > 0) {
		double began = o->now - o->elapsed;
		if (began > w->last_time && began < o->now) {
			end = began;
			heard = o->elapsed;
		}
	}
	w->looking = true;
	advance(w, end, goes_on ? o->elapsed : NAN);
	bool over = false;
	if (w->song_id >= 0) {
		bool same = o->song_id == w->song_id && o->state != WATCH_STOP;
		double m = watch_end_margin(w->duration, w->rules.end_margin);
		bool restarted = same && o->elapsed + RESTART_JUMP_S <
			w->position && w->duration - w->position <= m;
		if (!same || restarted) {
			judge(w, o, v);
			over = true;
		}
	}
	if (over || w->song_id < 0) {
		follow(w, o, heard);
		if (over)
			v->uri = w->judged_uri;
		return over;
	}
	/* The same song goes on: take MPD's position (a seek moves it, the
	 * stopwatch does not) and its state. */
	if (o->elapsed > w->position + SEEK_JUMP_S)
		w->seeked = true;
	w->position = o->elapsed;
	w->state = o->state;
	if (o->duration > 0)
		w->duration = o->duration;
	return false;
}
