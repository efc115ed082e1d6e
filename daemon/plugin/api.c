/* The plugin's side (see analysis.h): built into libmpdrec-analysis.so with
 * features/ and FFmpeg, every other symbol hidden. */
#include "daemon/plugin/analysis.h"

__attribute__((visibility("default")))
const struct analysis_api *mpdrec_analysis_api(void)
{
	static const struct analysis_api api = {
		.api_version = ANALYSIS_API_VERSION,
		.features = FEAT_COUNT,
		.features_version = FEATURES_VERSION,
		.new_analyze = analyze_new,
		.run = analyze_run,
		.seconds = analyze_seconds,
		.free_analyze = analyze_free,
		.file = analyze_file,
	};
	return &api;
}
