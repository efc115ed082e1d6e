#include "features/table.h"

#include <assert.h>
#include <string.h>

#define CHROMA(i)                                                             \
	{ "chroma_" #i, "", "chroma, " #i " semitones above the tonic "      \
			     "(shares sum to 1)" }
#define MFCC_MEAN(i)                                                          \
	{ "mfcc_mean_" #i, "", "mean of MFCC " #i " (40 Slaney mel bands)" }
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
			    "EBU R128 integrated loudness (K-weighting on "
			    "the frames' spectra)" },
	[FEAT_LOUDNESS_RANGE] = { "loudness_range", "LU",
				  "EBU R128 loudness range (Tech 3342)" },
	[FEAT_RMS_MEAN] = { "rms_mean", "dBFS",
			    "mean RMS level of 46 ms frames (Hann)" },
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
	[FEAT_BASS] = { "bass", "",
			"share of the power below 150 Hz (0..1)" },
	[FEAT_MOD4HZ] = { "mod4hz", "",
			  "share of the envelope modulation at 3-5 Hz "
			  "(syllable rate; 0..1)" },
	[FEAT_ZCR] = { "zcr", "1/s", "zero crossings per second" },
	[FEAT_VOICED] = { "voiced", "",
			  "share of sounding frames with a confident pitch "
			  "at 80-1000 Hz (aubio yinfft; 0..1)" },
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

_Static_assert(FEATURES_MFCC == 13 && FEATURES_MFCC_MEANS == 7,
	       "the table spells out 13 MFCC spreads and 7 means");

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
