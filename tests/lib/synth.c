/* Synthetic Spotify-like table: see synth.h. */
#include "tests/lib/synth.h"

#include "core/util.h"

#include <math.h>
#include <stdio.h>

const char *const synth_names[SYNTH_FEATURES] = {
	"acousticness", "danceability", "duration_ms", "energy",
	"instrumentalness", "key", "liveness", "loudness", "mode",
	"speechiness", "tempo", "time_signature", "valence",
};

enum { ACOUSTIC, DANCE, DURATION, ENERGY, INSTRUMENTAL, KEY, LIVENESS,
       LOUDNESS, MODE, SPEECH, TEMPO, TIMESIG, VALENCE };

/* How sharp the label is: set once so that a random forest reaches about
 * the 78-79% it reaches on the real table (Bayes rate about 82%). */
#define LABEL_SHARPNESS 1.1

static double clip(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void synth_spotify(int n, uint64_t seed, float *x, float *y, double *p)
{
	uint64_t s = seed;
	for (int i = 0; i < n; i++) {
		float *r = x + (size_t)i * SYNTH_FEATURES;
		double loud = -exp(log(7.0) + 0.45 * util_rand_normal(&s));
		if (util_rand_uniform(&s) < 0.01)
			loud -= 20 * util_rand_uniform(&s);	/* near-silent tracks */
		loud = clip(loud, -60, -0.3);
		double energy = clip(0.85 / (1 + exp(-(loud + 9) / 2.5)) +
				     0.12 * util_rand_normal(&s), 0.01, 1);
		double acoustic = clip(pow(1 - energy, 2) *
				       (0.2 + 1.3 * util_rand_uniform(&s)), 0, 0.996);
		double dance = clip(0.62 + 0.16 * util_rand_normal(&s), 0.1, 0.98);
		double dur = exp(log(235000.0) + 0.28 * util_rand_normal(&s));
		if (util_rand_uniform(&s) < 0.02)
			dur *= 2 + 2 * util_rand_uniform(&s);	/* long mixes */
		double instr = util_rand_uniform(&s) < 0.65
				       ? pow(10, -6 + 3 * util_rand_uniform(&s))
				       : pow(0.05 + 0.9 * util_rand_uniform(&s), 0.7);
		double live = clip(0.04 + -0.13 * log(1 - util_rand_uniform(&s)), 0, 1);
		double speech = clip(0.025 + -0.06 * log(1 - util_rand_uniform(&s)), 0,
				     0.9);
		double tempo = clip(121 + 28 * util_rand_normal(&s), 50, 220);
		double val = clip(0.5 + 0.25 * util_rand_normal(&s), 0.03, 0.99);
		double u = util_rand_uniform(&s);
		int tsig = u < 0.90 ? 4 : u < 0.97 ? 3 : u < 0.99 ? 5 : 1;

		r[ACOUSTIC] = (float)acoustic;
		r[DANCE] = (float)dance;
		r[DURATION] = (float)round(dur);
		r[ENERGY] = (float)energy;
		r[INSTRUMENTAL] = (float)instr;
		r[KEY] = (float)(util_rand_u64(&s) % 12);
		r[LIVENESS] = (float)live;
		r[LOUDNESS] = (float)loud;
		r[MODE] = util_rand_uniform(&s) < 0.6 ? 1.0f : 0.0f;
		r[SPEECH] = (float)speech;
		r[TEMPO] = (float)tempo;
		r[TIMESIG] = (float)tsig;
		r[VALENCE] = (float)val;

		double dm = dur / 60000.0;	/* minutes */
		double z = 1.6 * (dance - 0.62) / 0.16
			 + 1.2 * tanh((speech - 0.08) / 0.04)
			 + (instr > 0.1 ? 1.0 : -0.4)
			 - 0.6 * (dm - 3.8) * (dm - 3.8)
			 + 8.0 * (val - 0.5) * (energy - 0.6)
			 - 0.2 * (loud + 7)
			 + 0.8 * exp(-(tempo - 125) * (tempo - 125) / 450.0)
			 + 0.3;
		double prob = 1 / (1 + exp(-LABEL_SHARPNESS * z));
		y[i] = util_rand_uniform(&s) < prob ? 1.0f : 0.0f;
		if (p)
			p[i] = prob;
	}
}

double synth_bayes_accuracy(const double *p, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += p[i] > 0.5 ? p[i] : 1 - p[i];
	return n > 0 ? s / n : 0;
}

/* Text columns that exercise RFC 4180 quoting and UTF-8. */
static const char *const titles[] = {
	"Mask Off", "Redbone", "Xanny Family", "Master Of None",
	"Parallel Lines", "Sneakin\xe2\x80\x99", "Childs Play",
	"Gyöngyhajú lány", "Hello, Goodbye", "The \"Real\" Slim Shady",
	"Café del Mar", "Ain't No Sunshine", "1999",
};
static const char *const artists[] = {
	"Future", "Childish Gambino", "Beach House", "Junior Boys",
	"Drake", "Omega", "Simon & Garfunkel", "Earth, Wind & Fire",
	"Sigur Rós", "Björk",
};

static void put_text(FILE *f, const char *s)
{
	bool quote = false;
	for (const char *c = s; *c; c++)
		quote |= *c == ',' || *c == '"' || *c == '\n' || *c == '\r';
	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const char *c = s; *c; c++) {
		if (*c == '"')
			fputc('"', f);
		fputc(*c, f);
	}
	fputc('"', f);
}

bool synth_write_csv(const char *path, int n, const float *x,
		     const float *y, bool crlf)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	const char *eol = crlf ? "\r\n" : "\n";
	for (int j = 0; j < SYNTH_FEATURES; j++)
		fprintf(f, ",%s", synth_names[j]);
	fprintf(f, ",target,song_title,artist%s", eol);
	for (int i = 0; i < n; i++) {
		const float *r = x + (size_t)i * SYNTH_FEATURES;
		fprintf(f, "%d", i);
		for (int j = 0; j < SYNTH_FEATURES; j++) {
			/* Written as the real table writes them: integers
			 * as 4.0, small values as 5.83e-05. */
			if (r[j] == floorf(r[j]))
				fprintf(f, ",%.1f", (double)r[j]);
			else
				fprintf(f, ",%.9g", (double)r[j]);
		}
		fprintf(f, ",%d,", (int)y[i]);
		put_text(f, titles[i % (sizeof titles / sizeof *titles)]);
		fputc(',', f);
		put_text(f, artists[i % (sizeof artists / sizeof *artists)]);
		fputs(eol, f);
	}
	return fclose(f) == 0;
}
