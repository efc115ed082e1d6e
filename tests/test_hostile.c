/* Issue 8, hostile audio through the whole pipeline: MPD's database lists
 * them, `mpdrec analyze` (and then the daemon's background scan) reads
 * them. Good files of every format are put in MPD's music directory and
 * MPD is updated; then, as happens when files change behind MPD's back,
 * most of them are replaced by something hostile: zero bytes, a cut
 * header, random bytes, absurd WAV headers, a directory, a FIFO, links to
 * devices and a link loop, a file that vanished, 512 MB of zeros as .mp3,
 * .flac and .ogg (a preallocated, partly downloaded file: FFmpeg's MPEG
 * audio parser once kept all of it in memory). A few hostile files are
 * also there before the update (if MPD lists them, they count too). Every
 * good file must be ANALYSED, every bad one FAILED with a reason; nothing
 * crashes, nothing hangs (a bound on the whole pass), and the memory of
 * `mpdrec analyze` and of the daemon stays bounded (their peak RSS). */
#include "core/store.h"
#include "features/table.h"
#include "tests/lib/fixture.h"
#include "tests/lib/harness.h"
#include "tests/lib/proc.h"
#include "tests/lib/rig.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RATE 22050
#define ANALYZE_BOUND_S 60.0
#define ZEROS_BYTES (512L << 20)
/* Peak RSS of the analysing process, two workers: about 60 MB; a zero-
 * filled .mp3 took 1.09 GB before its reads were bounded. */
/* Under AddressSanitizer (make asan) memory is shadowed and freed blocks
 * wait in quarantine: peak RSS says little about the code, so the bound is
 * looser there (the unbounded parser took 1.09 GB for the file alone). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#define PEAK_RSS_BOUND_MB 800.0
#else
#define PEAK_RSS_BOUND_MB 150.0
#endif


static struct rig rig;
static const char *const formats[] = { "mp3", "flac", "ogg", "opus" };
#define N_FORMATS 4

enum how {
	GOOD,		/* stays a good file: must be analysed */
	ZERO,		/* truncated to 0 bytes */
	CUT,		/* truncated to its first 40 bytes */
	RANDOM,		/* 50,000 random bytes */
	WAV_HUGE,	/* header claims 4 GB of data, none follows */
	WAV_HUGE_OK,	/* header claims 4 GB, 1 s of real audio follows */
	WAV_NO_CHANNELS,
	WAV_GIGAHERTZ,	/* 1e9 Hz */
	WAV_ZERO_RATE,
	WAV_ZERO_BITS,
	WAV_UNKNOWN_CODEC,
	WAV_65535_CHANNELS,
	DIRECTORY,	/* a directory named like a file */
	FIFO,
	VANISHED,	/* deleted after MPD listed it */
	LINK_ZERO,	/* symbolic link to /dev/zero */
	LINK_RANDOM,	/* to /dev/urandom */
	LINK_LOOP,	/* to itself */
	ZEROS,		/* 512 MB of zero bytes (sparse) */
};

struct item {
	char name[64];
	enum how how;
	bool direct;		/* there before MPD's update */
};

static struct item items[64];
static int n_items;

static void add(const char *name, enum how how, bool direct)
{
	struct item *it = &items[n_items++];
	snprintf(it->name, sizeof it->name, "%s", name);
	it->how = how;
	it->direct = direct;
}

static char *music(const char *name)
{
	static char buf[4][8800];
	static int i;
	char *p = buf[i++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", rig.mpd.music, name);
	return p;
}

static void le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

/* A canonical 44-byte WAV header with the given fields, then `frames` of
 * a 16-bit sine (one channel's worth of bytes per frame). */
static bool write_wav_header(const char *path, unsigned fmt, unsigned ch,
			     uint32_t rate, unsigned bits, unsigned align,
			     uint32_t data_size, uint32_t riff_size,
			     int frames)
{
	unsigned char h[44];
	memcpy(h, "RIFF", 4);
	le32(h + 4, riff_size);
	memcpy(h + 8, "WAVEfmt ", 8);
	le32(h + 16, 16);
	le16(h + 20, fmt);
	le16(h + 22, ch);
	le32(h + 24, rate);
	le32(h + 28, rate * align);
	le16(h + 32, align);
	le16(h + 34, bits);
	memcpy(h + 36, "data", 4);
	le32(h + 40, data_size);
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(h, 1, sizeof h, f) == sizeof h;
	for (int i = 0; ok && i < frames; i++) {
		int16_t s = (int16_t)(8000 * sin(0.1 * i));
		unsigned char b[2];
		le16(b, (unsigned)(uint16_t)s);
		ok = fwrite(b, 1, 2, f) == 2;
	}
	return fclose(f) == 0 && ok;
}

/* Turns the good file at path into what `how` says. */
static bool spoil(const struct item *it, int seed)
{
	const char *p = music(it->name);
	switch (it->how) {
	case GOOD:
		return true;
	case ZERO:
		return truncate(p, 0) == 0;
	case CUT:
		return truncate(p, 40) == 0;
	case RANDOM:
		return fixture_random_file(p, 50000, (uint64_t)seed + 11);
	case WAV_HUGE:
		return write_wav_header(p, 1, 1, RATE, 16, 2, 0xfffffff0u,
					0xffffffffu, 0);
	case WAV_HUGE_OK:
		return write_wav_header(p, 1, 1, RATE, 16, 2, 0xfffffff0u,
					0xffffffffu, RATE);
	case WAV_NO_CHANNELS:
		return write_wav_header(p, 1, 0, RATE, 16, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case WAV_GIGAHERTZ:
		return write_wav_header(p, 1, 1, 1000000000u, 16, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case WAV_ZERO_RATE:
		return write_wav_header(p, 1, 1, 0, 16, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case WAV_ZERO_BITS:
		return write_wav_header(p, 1, 1, RATE, 0, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case WAV_UNKNOWN_CODEC:
		return write_wav_header(p, 0xbeef, 1, RATE, 16, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case WAV_65535_CHANNELS:
		return write_wav_header(p, 1, 65535, RATE, 16, 2, 2 * RATE,
					36 + 2 * RATE, RATE);
	case DIRECTORY:
		return unlink(p) == 0 && mkdir(p, 0755) == 0;
	case FIFO:
		return unlink(p) == 0 && mkfifo(p, 0644) == 0;
	case VANISHED:
		return unlink(p) == 0;
	case LINK_ZERO:
		return unlink(p) == 0 && symlink("/dev/zero", p) == 0;
	case LINK_RANDOM:
		return unlink(p) == 0 && symlink("/dev/urandom", p) == 0;
	case LINK_LOOP:
		return unlink(p) == 0 && symlink(it->name, p) == 0;
	case ZEROS:
		return truncate(p, 0) == 0 && truncate(p, ZEROS_BYTES) == 0;
	}
	return false;
}

static void plan(void)
{
	char name[64];
	for (int f = 0; f < N_FORMATS; f++) {
		snprintf(name, sizeof name, "good.%s", formats[f]);
		add(name, GOOD, false);
		snprintf(name, sizeof name, "zero.%s", formats[f]);
		add(name, ZERO, false);
		snprintf(name, sizeof name, "cut.%s", formats[f]);
		add(name, CUT, false);
		snprintf(name, sizeof name, "random.%s", formats[f]);
		add(name, RANDOM, false);
	}
	add("good.wav", GOOD, false);
	add("huge-but-1s.wav", WAV_HUGE_OK, false);
	add("huge.wav", WAV_HUGE, false);
	add("no-channels.wav", WAV_NO_CHANNELS, false);
	add("gigahertz.wav", WAV_GIGAHERTZ, false);
	add("zero-rate.wav", WAV_ZERO_RATE, false);
	add("zero-bits.wav", WAV_ZERO_BITS, false);
	add("codec-beef.wav", WAV_UNKNOWN_CODEC, false);
	add("65535-channels.wav", WAV_65535_CHANNELS, false);
	add("x.flac", DIRECTORY, false);
	add("y.mp3", FIFO, false);
	add("vanished.ogg", VANISHED, false);
	add("dev-zero.mp3", LINK_ZERO, false);
	add("dev-urandom.flac", LINK_RANDOM, false);
	add("loop.opus", LINK_LOOP, false);
	add("zeros.mp3", ZEROS, false);
	add("zeros.flac", ZEROS, false);
	add("zeros.ogg", ZEROS, false);
	/* MPD decides about these itself. */
	add("direct-random.mp3", RANDOM, true);
	add("direct-zero.flac", ZERO, true);
	add("direct-cut.ogg", CUT, true);
	add("direct-huge.wav", WAV_HUGE, true);
}

/* Copies src to dst. */
static bool copy(const char *src, const char *dst)
{
	return harness_system("cp '%s' '%s'", src, dst) == 0;
}

static bool setup(void)
{
	if (!rig_start_mpd(&rig, harness_tmpdir()))
		return false;
	char stage[4200];
	snprintf(stage, sizeof stage, "%s/stage", rig.root);
	mkdir(stage, 0700);
	enum { N = 2 * RATE };
	static float x[N];
	static const double hz[] = { 220, 277, 330 };
	fixture_chord(x, N, RATE, hz, 3, 0.5);
	char *wav = fixture_wav(stage, "src.wav", x, N, RATE);
	if (!wav)
		return false;
	char *enc[N_FORMATS];
	for (int f = 0; f < N_FORMATS; f++)
		if (!(enc[f] = fixture_encode(wav, formats[f]))) {
			fprintf(stderr, "ffmpeg cannot encode %s\n",
				formats[f]);
			return false;
		}
	plan();
	for (int i = 0; i < n_items; i++) {
		const char *ext = strrchr(items[i].name, '.') + 1;
		const char *src = wav;
		for (int f = 0; f < N_FORMATS; f++)
			if (!strcmp(ext, formats[f]))
				src = enc[f];
		if (!copy(src, music(items[i].name)))
			return false;
		if (items[i].direct && !spoil(&items[i], i))
			return false;
	}
	if (!mpdtest_update(&rig.mpd))
		return false;
	for (int i = 0; i < n_items; i++)
		if (!items[i].direct && !spoil(&items[i], i)) {
			fprintf(stderr, "cannot make %s: %s\n", items[i].name,
				strerror(errno));
			return false;
		}
	for (int f = 0; f < N_FORMATS; f++)
		free(enc[f]);
	free(wav);
	return rig_write_conf(&rig, "analysis = { jobs = 2; };");
}

/* Runs `mpdrec analyze` with a bound; returns its exit status (-1: it had
 * to be killed), the time it took and its peak RSS in MB (from wait4). */
static int analyze(const char *log, double *seconds, double *peak_mb)
{
	char *argv[] = { (char *)proc_mpdrec(), "--config", rig.conf,
			 "analyze", NULL };
	double start = proc_now();
	*peak_mb = 0;
	*seconds = 0;
	pid_t pid = proc_spawn(argv, log);
	if (pid < 0)
		return -1;
	int st;
	struct rusage ru;
	while (wait4(pid, &st, WNOHANG, &ru) != pid) {
		if (proc_now() - start > ANALYZE_BOUND_S) {
			kill(pid, SIGKILL);
			wait4(pid, &st, 0, &ru);
			*seconds = proc_now() - start;
			return -1;
		}
		proc_sleep(0.01);
	}
	*seconds = proc_now() - start;
	*peak_mb = ru.ru_maxrss / 1024.0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The peak RSS of a running process, in MB (VmHWM), 0 if unknown. */
static double peak_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024.0;
}

struct tally {
	int tried;		/* hostile inputs the pipeline read */
	int failed_ok;		/* bad ones FAILED with a reason */
	int odd_ok;		/* odd but playable ones ANALYSED */
	int good, good_ok;	/* good files, and those ANALYSED */
	int unlisted;		/* refused by MPD's own scan */
};

/* Every item's status in the store of data_dir. */
static void check_statuses(const char *data_dir, struct tally *t,
			   bool verbose)
{
	char err[512];
	struct store *s = store_open(data_dir, err, sizeof err);
	if (!CHECK_MSG(s, "%s", err))
		return;
	memset(t, 0, sizeof *t);
	for (int i = 0; i < n_items; i++) {
		const struct item *it = &items[i];
		enum store_status st;
		char *why = NULL;
		float v[FEAT_COUNT];
		bool known = store_get_track(s, it->name, FEATURES_VERSION,
					     FEAT_COUNT, v, &st, &why);
		if (!known) {
			/* Only a file MPD refused itself may be unknown. */
			CHECK_MSG(it->direct, "%s: not in the store: %s",
				  it->name, store_error(s));
			t->unlisted++;
			continue;
		}
		if (it->how == GOOD || it->how == WAV_HUGE_OK) {
			if (it->how == GOOD) {
				t->good++;
				t->good_ok += st == STORE_ANALYSED;
			} else {
				t->odd_ok += st == STORE_ANALYSED;
			}
			CHECK_MSG(st == STORE_ANALYSED, "%s: status %d (%s)",
				  it->name, st, why ? why : "");
		} else {
			bool ok = st == STORE_FAILED && why && *why;
			t->failed_ok += ok;
			CHECK_MSG(ok, "%s: status %d, reason \"%s\"", it->name,
				  st, why ? why : "(none)");
		}
		if (it->how != GOOD)
			t->tried++;
		if (verbose && it->how != GOOD)
			printf("  %-20s %s%s%s\n", it->name,
			       st == STORE_ANALYSED ? "analysed" :
			       st == STORE_FAILED ? "failed: " : "?",
			       why ? why : "", it->direct ? " (MPD listed "
			       "it)" : "");
		free(why);
	}
	store_close(s);
}

static bool ready;

static void test_analyze_survives_hostile_files(void)
{
	if (!CHECK(ready))
		return;
	char log[4400];
	snprintf(log, sizeof log, "%s/analyze.log", rig.root);
	double secs, peak;
	int rc = analyze(log, &secs, &peak);
	CHECK_MSG(rc == 0, "mpdrec analyze: status %d after %.1f s (see %s)",
		  rc, secs, log);
	CHECK_MSG(peak > 0 && peak < PEAK_RSS_BOUND_MB,
		  "mpdrec analyze peaked at %.0f MB (bound %.0f)", peak,
		  PEAK_RSS_BOUND_MB);
	CHECK(rig_log_count(log, 0, "analysed,") == 1);
	struct tally t;
	check_statuses(rig.data, &t, true);
	CHECK_INT(t.good, N_FORMATS + 1);
	CHECK_INT(t.good_ok, t.good);
	CHECK_INT(t.failed_ok + t.odd_ok, t.tried);
	CHECK(t.tried >= 25);
	printf("hostile audio: %d hostile inputs tried through MPD and "
	       "mpdrec analyze: %d failed with a reason, %d odd but playable "
	       "(analysed); %d of %d good files analysed; %d refused by MPD "
	       "itself; %.1f s (bound %.0f s), peak RSS %.0f MB (bound %.0f "
	       "MB), exit status %d\n",
	       t.tried, t.failed_ok, t.odd_ok, t.good_ok, t.good, t.unlisted,
	       secs, ANALYZE_BOUND_S, peak, PEAK_RSS_BOUND_MB, rc);

	/* A second pass retries nothing: failures wait for a new mtime. */
	char log2[4400];
	snprintf(log2, sizeof log2, "%s/analyze2.log", rig.root);
	rc = analyze(log2, &secs, &peak);
	CHECK_INT(rc, 0);
	CHECK_MSG(rig_log_count(log2, 0, ": 0 analysed, 0 failed") == 1,
		  "second pass analysed again (see %s)", log2);
}

/* The daemon's background scan on the same library, from a fresh store. */
static void test_daemon_scan_survives_hostile_files(void)
{
	if (!CHECK(ready))
		return;
	snprintf(rig.data, sizeof rig.data, "%s/data-daemon", rig.root);
	if (!CHECK(rig_write_conf(&rig, "analysis = { jobs = 2; };")))
		return;
	double t0 = proc_now();
	if (!CHECK(rig_start_daemon(&rig, 30)))
		return;
	CHECK_MSG(proc_wait_for(rig.log, "library scan:", 0, ANALYZE_BOUND_S),
		  "the daemon's scan did not end within %.0f s",
		  ANALYZE_BOUND_S);
	double secs = proc_now() - t0;
	double peak = peak_of(rig.pid);
	CHECK_MSG(peak > 0 && peak < PEAK_RSS_BOUND_MB,
		  "the daemon peaked at %.0f MB (bound %.0f)", peak,
		  PEAK_RSS_BOUND_MB);
	CHECK_INT(rig_stop_daemon(&rig, SIGTERM, 10), 0);
	struct tally t;
	check_statuses(rig.data, &t, false);
	CHECK_INT(t.good_ok, t.good);
	CHECK_INT(t.failed_ok + t.odd_ok, t.tried);
	printf("daemon scan: %d hostile inputs, %d failed with a reason, "
	       "%d good analysed, %.1f s, peak RSS %.0f MB, clean exit\n",
	       t.tried, t.failed_ok, t.good_ok, secs, peak);
}

int main(void)
{
	ready = setup();
	if (!ready)
		fprintf(stderr, "setup failed\n");
	RUN(test_analyze_survives_hostile_files);
	RUN(test_daemon_scan_survives_hostile_files);
	if (rig.pid > 0)
		rig_stop_daemon(&rig, SIGTERM, 5);
	mpdtest_stop(&rig.mpd);
	return harness_finish();
}
