#include "features/table.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHROMA(i)                                                             \
	{ "chroma_" #i, "", "chroma, " #i " semitones above the tonic "      \
			     "(shares sum to 1)" }
#define MFCC_MEAN(i)                                                          \
	{ "mfcc_mean_" #i, "", "mean of MFCC " #i " (aubio, 40 mel bands)" }
#define MFCC_STD(i)                                                           \
	{ "mfcc_std_" #i, "", "standard deviation of MFCC " #i }

static const struct feature_info table[FEAT_COUNT] = {
	[FEAT_TEMPO] = { "tempo", "BPM",
			 "aubio beat tracker: median beat period, checked "
			 "for octave and refined on the onset envelope" },
	[FEAT_TEMPO_CONFIDENCE] = { "tempo_confidence", "",
				    "aubio beat tracker confidence, mean over "
				    "the track (0 = none; unbounded)" },
	[FEAT_DANCEABILITY] = { "danceability", "",
				"detrended fluctuation analysis, 1 / mean "
				"exponent (Streich & Herrera; 0..10)" },
	[FEAT_BEAT_STRENGTH] = { "beat_strength", "",
				 "onset envelope autocorrelation peak at "
				 "40-240 BPM (0..1)" },
	[FEAT_ONSET_RATE] = { "onset_rate", "1/s",
			      "onsets per second (aubio peak picker)" },
	[FEAT_LOUDNESS] = { "loudness", "LUFS",
			    "EBU R128 integrated loudness (libebur128)" },
	[FEAT_LOUDNESS_RANGE] = { "loudness_range", "LU",
				  "EBU R128 loudness range (libebur128)" },
	[FEAT_RMS_MEAN] = { "rms_mean", "dBFS",
			    "mean RMS level of 23 ms frames" },
	[FEAT_RMS_STD] = { "rms_std", "dB",
			   "standard deviation of the frame RMS level" },
	[FEAT_SPECTRAL_FLUX] = { "spectral_flux", "",
				 "mean change of the normalised magnitude "
				 "spectrum between frames (0..1)" },
	[FEAT_FLATNESS_MEAN] = { "flatness_mean", "",
				 "spectral flatness, geometric / arithmetic "
				 "mean of the power (0..1)" },
	[FEAT_FLATNESS_STD] = { "flatness_std", "",
				"standard deviation of the spectral flatness" },
	[FEAT_ROLLOFF_MEAN] = { "rolloff_mean", "Hz",
				"frequency below which 85% of the power lies" },
	[FEAT_ROLLOFF_STD] = { "rolloff_std", "Hz",
			       "standard deviation of the roll-off" },
	[FEAT_CENTROID_MEAN] = { "centroid_mean", "Hz",
				 "spectral centroid (magnitude-weighted)" },
	[FEAT_CENTROID_STD] = { "centroid_std", "Hz",
				"standard deviation of the centroid" },
	[FEAT_CREST] = { "crest", "dB",
			 "mean crest factor (peak / RMS) of 23 ms frames" },
	[FEAT_MOD4HZ] = { "mod4hz", "",
			  "share of the envelope modulation at 3-5 Hz "
			  "(syllable rate; 0..1)" },
	[FEAT_LOW_ENERGY] = { "low_energy", "",
			      "share of frames below the mean RMS (0..1)" },
	[FEAT_ZCR] = { "zcr", "1/s", "zero crossings per second" },
	[FEAT_VOICED] = { "voiced", "",
			  "share of sounding frames with a confident pitch "
			  "at 80-1000 Hz (aubio yinfft; 0..1)" },
	[FEAT_KEY_SIN] = { "key_sin", "",
			   "key on the circle of fifths, sine (relative "
			   "keys coincide)" },
	[FEAT_KEY_COS] = { "key_cos", "",
			   "key on the circle of fifths, cosine" },
	[FEAT_MODE] = { "mode", "", "1 major, 0 minor" },
	[FEAT_KEY_STRENGTH] = { "key_strength", "",
				"correlation of the chroma with the best key "
				"profile (-1..1)" },
	[FEAT_CHROMA + 0] = CHROMA(0),
	[FEAT_CHROMA + 1] = CHROMA(1),
	[FEAT_CHROMA + 2] = CHROMA(2),
	[FEAT_CHROMA + 3] = CHROMA(3),
	[FEAT_CHROMA + 4] = CHROMA(4),
	[FEAT_CHROMA + 5] = CHROMA(5),
	[FEAT_CHROMA + 6] = CHROMA(6),
	[FEAT_CHROMA + 7] = CHROMA(7),
	[FEAT_CHROMA + 8] = CHROMA(8),
	[FEAT_CHROMA + 9] = CHROMA(9),
	[FEAT_CHROMA + 10] = CHROMA(10),
	[FEAT_CHROMA + 11] = CHROMA(11),
	[FEAT_MFCC_MEAN + 0] = MFCC_MEAN(0),
	[FEAT_MFCC_MEAN + 1] = MFCC_MEAN(1),
	[FEAT_MFCC_MEAN + 2] = MFCC_MEAN(2),
	[FEAT_MFCC_MEAN + 3] = MFCC_MEAN(3),
	[FEAT_MFCC_MEAN + 4] = MFCC_MEAN(4),
	[FEAT_MFCC_MEAN + 5] = MFCC_MEAN(5),
	[FEAT_MFCC_MEAN + 6] = MFCC_MEAN(6),
	[FEAT_MFCC_MEAN + 7] = MFCC_MEAN(7),
	[FEAT_MFCC_MEAN + 8] = MFCC_MEAN(8),
	[FEAT_MFCC_MEAN + 9] = MFCC_MEAN(9),
	[FEAT_MFCC_MEAN + 10] = MFCC_MEAN(10),
	[FEAT_MFCC_MEAN + 11] = MFCC_MEAN(11),
	[FEAT_MFCC_MEAN + 12] = MFCC_MEAN(12),
	[FEAT_MFCC_STD + 0] = MFCC_STD(0),
	[FEAT_MFCC_STD + 1] = MFCC_STD(1),
	[FEAT_MFCC_STD + 2] = MFCC_STD(2),
	[FEAT_MFCC_STD + 3] = MFCC_STD(3),
	[FEAT_MFCC_STD + 4] = MFCC_STD(4),
	[FEAT_MFCC_STD + 5] = MFCC_STD(5),
	[FEAT_MFCC_STD + 6] = MFCC_STD(6),
	[FEAT_MFCC_STD + 7] = MFCC_STD(7),
	[FEAT_MFCC_STD + 8] = MFCC_STD(8),
	[FEAT_MFCC_STD + 9] = MFCC_STD(9),
	[FEAT_MFCC_STD + 10] = MFCC_STD(10),
	[FEAT_MFCC_STD + 11] = MFCC_STD(11),
	[FEAT_MFCC_STD + 12] = MFCC_STD(12),
	[FEAT_DURATION] = { "duration", "s",
			    "length of the whole track (container)" },
};

_Static_assert(FEATURES_MFCC == 13, "the table spells out 13 MFCCs");

int features_count(void)
{
	return FEAT_COUNT;
}

const struct feature_info *features_info(int i)
{
	assert(i >= 0 && i < FEAT_COUNT);
	return &table[i];
}

int features_find(const char *name)
{
	for (int i = 0; i < FEAT_COUNT; i++)
		if (strcmp(table[i].name, name) == 0)
			return i;
	return -1;
}

bool features_key(const float *v, int *tonic, bool *major)
{
	double s = v[FEAT_KEY_SIN], c = v[FEAT_KEY_COS];
	if (!(s * s + c * c > 0.25))
		return false;
	/* Position on the circle of fifths of the key or of its relative
	 * major; 7 is its own inverse modulo 12. */
	int pos = (int)lround(atan2(s, c) / (2 * M_PI / 12));
	pos = ((pos % 12) + 12) % 12;
	int t = pos * 7 % 12;
	*major = v[FEAT_MODE] >= 0.5f;
	*tonic = *major ? t : (t + 9) % 12;
	return true;
}

const char *features_key_name(const float *v, char *buf, size_t size)
{
	static const char *const names[12] = { "C",  "C#", "D",  "Eb",
					       "E",  "F",  "F#", "G",
					       "Ab", "A",  "Bb", "B" };
	int tonic;
	bool major;
	if (features_key(v, &tonic, &major))
		snprintf(buf, size, "%s %s", names[tonic],
			 major ? "major" : "minor");
	else
		snprintf(buf, size, "none");
	return buf;
}
