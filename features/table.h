/* The feature table: every entry of the vector one track is reduced to, with
 * its name, unit and a one-line description. The CLI (`mpdrec show`), the CSV
 * export and the report all read names from here, so they cannot disagree.
 *
 * The order of the entries is the layout of the vector. Changing what any
 * entry means, or the order, must bump FEATURES_VERSION: the store then
 * re-analyses every track.
 */
#ifndef MPDREC_TABLE_H
#define MPDREC_TABLE_H


/** Version of the vector layout and of the analysis behind it. 2: key,
 *  mode, key strength, crest, low-energy share and the means of MFCC 7-12
 *  dropped (no permutation importance on real music), the bass share
 *  added; loudness from the analysis frames' spectra. */
#define FEATURES_VERSION 2

/** Number of MFCC coefficients whose spread is kept, and of those whose
 *  mean is (the first ones). */
#define FEATURES_MFCC 13
#define FEATURES_MFCC_MEANS 7

/** Index of each entry in the vector. */
enum feature_index {
	FEAT_TEMPO,
	FEAT_TEMPO_CONFIDENCE,
	FEAT_DANCEABILITY,
	FEAT_BEAT_STRENGTH,
	FEAT_ONSET_RATE,
	FEAT_LOUDNESS,
	FEAT_LOUDNESS_RANGE,
	FEAT_RMS_MEAN,
	FEAT_RMS_STD,
	FEAT_SPECTRAL_FLUX,
	FEAT_FLATNESS_MEAN,
	FEAT_FLATNESS_STD,
	FEAT_ROLLOFF_MEAN,
	FEAT_ROLLOFF_STD,
	FEAT_CENTROID_MEAN,
	FEAT_CENTROID_STD,
	FEAT_BASS,
	FEAT_MOD4HZ,
	FEAT_ZCR,
	FEAT_VOICED,
	FEAT_CHROMA,		/* 12 entries, rotated to the tonic */
	FEAT_MFCC_MEAN = FEAT_CHROMA + 12,
	FEAT_MFCC_STD = FEAT_MFCC_MEAN + FEATURES_MFCC_MEANS,
	FEAT_DURATION = FEAT_MFCC_STD + FEATURES_MFCC,
	FEAT_COUNT
};

/** One entry of the table. All strings are static. */
struct feature_info {
	const char *name;	/* lower_case, unique; a CSV column name */
	const char *unit;	/* "BPM", "LUFS", "Hz", ...; "" when none */
	const char *help;	/* one line */
};

/** Returns the length of the vector (FEAT_COUNT). */
int features_count(void);

/** Returns entry i (0 <= i < features_count()); borrowed, static. */
const struct feature_info *features_info(int i);

/** Returns the index of the entry called name, or -1. */
int features_find(const char *name);

#endif
