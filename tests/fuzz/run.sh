#!/bin/sh
# make fuzz: builds one libFuzzer harness per target (tests/fuzz/fuzz_*.c)
# with clang, ASan and UBSan under build-fuzz/, makes the seed corpora, and
# runs each target for FUZZ_SECONDS (default 60). Prints per target the
# executions, executions per second, new coverage and crashes, then one
# summary line. Exits non-zero when a target crashed (the input is kept under
# build-fuzz/crashes/TARGET/ and the command that reproduces it is printed)
# or could not be built or run.
#
#	FUZZ_SECONDS=10 sh tests/fuzz/run.sh            # CI's short pass
#	FUZZ_TARGETS="csv conf" sh tests/fuzz/run.sh     # some targets only
#
# The corpus each run finds is kept in build-fuzz/corpus/TARGET/ and grows
# from run to run; tests/fuzz/corpus/TARGET/ holds the committed text seeds,
# build-fuzz/seeds/TARGET/ the generated binary ones (model blobs, audio).
set -u
cd "$(dirname "$0")/../.." || exit 2

SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"model conf csv channel decode"}
CC=${FUZZ_CC:-clang}
B=build-fuzz

case $SECONDS_PER_TARGET in
''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a whole number of seconds," \
	"not '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac

# ---- toolchain ----

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found: install clang (apt-get install clang)" >&2
	exit 2
fi
# Debian's clang-14 keeps it in libclang-rt-14-dev; another clang says
# where its runtime lives.
rt=lib/linux/libclang_rt.fuzzer-x86_64.a
runtime=""
for f in /usr/lib/llvm-14/lib/clang/*/$rt \
	"$("$CC" -print-resource-dir 2>/dev/null)/$rt"; do
	[ -f "$f" ] && { runtime=$f; break; }
done
if [ -z "$runtime" ]; then
	echo "fuzz: the libFuzzer runtime (libclang_rt.fuzzer-x86_64.a) is" \
		"missing: install libclang-rt-14-dev" \
		"(apt-get install libclang-rt-14-dev)" >&2
	exit 2
fi

# ---- build ----

# Sources of the library each target needs, and its pkg-config modules.
target_src() {
	case $1 in
	model)   echo core/model.c core/nn.c core/scaler.c core/metrics.c core/util.c ;;
	conf)    echo conf/conf.c ;;
	csv)     echo core/csv.c ;;
	channel) echo daemon/channel.c daemon/link.c daemon/log.c ;;
	decode)  echo features/decode.c features/resample.c ;;
	*)       return 1 ;;
	esac
}
target_pkgs() {
	case $1 in
	model)  echo openblas ;;
	conf)   echo libconfig ;;
	channel) echo libmpdclient ;;
	decode) echo libavformat libavcodec libavutil libswresample ;;
	esac
}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
BASE_CFLAGS="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fno-omit-frame-pointer $SAN"
# The harnesses keep the project's warnings; other modules are compiled as
# they are (a clang-only warning there is not this run's business).
WARN="-Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes \
-Wstrict-prototypes -Wformat=2 -Werror"

# Headers any object may include; an object older than one is rebuilt.
newest_header=$(ls -t core/*.h conf/*.h features/*.h daemon/*.h daemon/cmd/*.h \
	tests/fuzz/*.h 2>/dev/null | head -n 1)

# stale OUT SRC: whether OUT must be rebuilt from SRC.
stale() {
	[ ! -f "$1" ] || [ "$2" -nt "$1" ] || [ "$newest_header" -nt "$1" ] ||
		[ tests/fuzz/run.sh -nt "$1" ]
}

# build TARGET: compiles (when stale) and links build-fuzz/fuzz_TARGET.
build() {
	t=$1
	src=$(target_src "$t") || {
		echo "fuzz: unknown target $t" >&2
		return 1
	}
	pkgs=$(target_pkgs "$t")
	pc_cflags=""
	pc_libs=""
	if [ -n "$pkgs" ]; then
		pc_cflags=$(pkg-config --cflags $pkgs) &&
			pc_libs=$(pkg-config --libs $pkgs) || {
			echo "fuzz: pkg-config: no $pkgs (make deps)" >&2
			return 1
		}
	fi
	objs=""
	relink=false
	for s in $src tests/fuzz/fuzz_$t.c; do
		o=$B/obj/${s%.c}.o
		objs="$objs $o"
		stale "$o" "$s" || continue
		relink=true
		mkdir -p "$(dirname "$o")"
		case $s in
		tests/*) flags="$WARN -fsanitize=fuzzer-no-link" ;;
		*)       flags="-w -fsanitize=fuzzer-no-link" ;;
		esac
		$CC $BASE_CFLAGS $flags $pc_cflags -c -o "$o" "$s" || return 1
	done
	bin=$B/fuzz_$t
	if $relink || [ ! -f "$bin" ]; then
		$CC $BASE_CFLAGS -fsanitize=fuzzer -o "$bin" $objs $pc_libs \
			-lpthread -lm || {
			echo "fuzz: $t: link failed; if a module now uses" \
				"another one, add it to target_src in $0" >&2
			return 1
		}
	fi
}

# ---- seeds ----

# seeds TARGET: makes build-fuzz/seeds/TARGET/ (generated seeds), once.
seeds() {
	t=$1
	d=$B/seeds/$t
	mkdir -p "$d"
	case $t in
	model)
		# The harness writes model_save() blobs of small models.
		[ -f "$d/trained" ] && [ "$d/trained" -nt "$B/fuzz_model" ] ||
			FUZZ_MAKE_SEEDS=$d "$B/fuzz_model" >/dev/null 2>&1 || {
			echo "fuzz: cannot make the model seeds" >&2
			return 1
		}
		;;
	decode)
		# 0.2 s of a tone in every container analysis meets.
		command -v ffmpeg >/dev/null 2>&1 || {
			echo "fuzz: ffmpeg not found (make deps)" >&2
			return 1
		}
		for spec in "wav:pcm_s16le:8000" "flac:flac:8000" \
			"ogg:libvorbis:8000" "mp3:libmp3lame:22050" \
			"opus:libopus:8000" "m4a:aac:8000"; do
			ext=${spec%%:*}; rest=${spec#*:}
			codec=${rest%%:*}; rate=${rest#*:}
			f=$d/tone.$ext
			[ -s "$f" ] && continue
			tone="sine=frequency=440:sample_rate=$rate:duration=0.2"
			ffmpeg -nostdin -loglevel error -y -f lavfi -i "$tone" \
				-ac 1 -c:a "$codec" -map_metadata -1 "$f" || {
				rm -f "$f"
				echo "fuzz: ffmpeg cannot make a $ext seed" >&2
				return 1
			}
		done
		# A stereo WAV at 44.1 kHz: resampling and downmixing.
		f=$d/stereo.wav
		[ -s "$f" ] || ffmpeg -nostdin -loglevel error -y -f lavfi \
			-i "sine=frequency=300:sample_rate=44100:duration=0.1" \
			-ac 2 -c:a pcm_u8 "$f" || return 1
		# 40 s of silence in 15 KB of FLAC: longer than the harness's
		# max_seconds, so it is cut into excerpts found by seeking.
		f=$d/long.flac
		[ -s "$f" ] || ffmpeg -nostdin -loglevel error -y -f lavfi \
			-i "anullsrc=r=8000:cl=mono" -t 40 -c:a flac "$f" ||
			return 1
		;;
	esac
}

# ---- run ----

# final_stat LOG NAME: the value of libFuzzer's final "stat::NAME:" line.
final_stat() {
	sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

# findings DIR: how many inputs libFuzzer kept there as failures (not the
# slow-unit-* notes it also writes).
findings() {
	ls "$1" | grep -cE '^(crash|leak|timeout|oom)-'
}

# cov LOG WHEN: the "cov:" figure of the first INITED or the last line.
cov() {
	if [ "$2" = first ]; then
		sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$1" | head -n 1
	else
		sed -n 's/.* cov: \([0-9]*\).*/\1/p' "$1" | tail -n 1
	fi
}

# Leaks inside third-party libraries that are not mpdrec's to fix (see
# the file); kept in the environment so a reproducer sees them too.
supp=$(pwd)/tests/fuzz/lsan.supp
LSAN_OPTIONS="suppressions=$supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

# Scratch files the harnesses write each input to.
FUZZ_TMPDIR=$(mktemp -d /dev/shm/mpdrec-fuzz.XXXXXX 2>/dev/null ||
	mktemp -d "${TMPDIR:-/tmp}/mpdrec-fuzz.XXXXXX") || exit 2
export FUZZ_TMPDIR
trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
trap 'exit 130' INT TERM

n_targets=0
total_execs=0
total_crashes=0
failed=""
started=$(date +%s)
for t in $TARGETS; do
	n_targets=$((n_targets + 1))
	if ! build "$t" || ! seeds "$t"; then
		echo "fuzz: $t: build or seeds failed" >&2
		failed="$failed $t"
		continue
	fi
	corpus=$B/corpus/$t
	crashes=$B/crashes/$t
	log=$B/logs/$t.log
	mkdir -p "$corpus" "$crashes" "$B/logs"
	dirs="$corpus"
	[ -d tests/fuzz/corpus/$t ] && dirs="$dirs tests/fuzz/corpus/$t"
	[ -d $B/seeds/$t ] && dirs="$dirs $B/seeds/$t"
	# Inputs that once failed run first, as any corpus file does.
	[ -d tests/fuzz/regress/$t ] && dirs="$dirs tests/fuzz/regress/$t"
	max_len=4096
	case $t in
	model)   max_len=8192 ;;	# the "trained" seed is 4 KB
	conf)    max_len=8192 ;;	# conf/mpdrec.conf is 4 KB
	channel) max_len=2048 ;;	# past CHANNEL_MAX, to try oversized
	decode)  max_len=16384 ;;
	esac
	before=$(findings "$crashes")
	# -timeout: one input may take 10 s at most (the decoder's own bound
	# is 2 s); -rss_limit_mb: memory per process.
	"$B/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
		-rss_limit_mb=2048 -max_len=$max_len -print_final_stats=1 \
		-artifact_prefix="$crashes/" $dirs >"$log" 2>&1
	rc=$?
	execs=$(final_stat "$log" number_of_executed_units)
	speed=$(final_stat "$log" average_exec_per_sec)
	units=$(final_stat "$log" new_units_added)
	cov0=$(cov "$log" first)
	cov1=$(cov "$log" last)
	after=$(findings "$crashes")
	found=$((after - before))
	[ $rc -ne 0 ] && [ $found -eq 0 ] && found=1
	total_execs=$((total_execs + ${execs:-0}))
	total_crashes=$((total_crashes + found))
	printf 'fuzz: %-8s %9s execs %7s exec/s  ' "$t" "${execs:-?}" \
		"${speed:-?}"
	printf 'cov %s -> %s (+%s inputs)  crashes %d\n' "${cov0:-?}" \
		"${cov1:-?}" "${units:-?}" "$found"
	if [ $rc -ne 0 ]; then
		failed="$failed $t"
		art=$(ls -t "$crashes"/crash-* "$crashes"/leak-* \
			"$crashes"/timeout-* "$crashes"/oom-* 2>/dev/null |
			head -n 1)
		echo "fuzz: $t: libFuzzer exited $rc; log: $log"
		# The finding and the stack, less libFuzzer's and libc's frames.
		keep='^(==[0-9]+==ERROR|SUMMARY|fuzz: .*check failed'
		keep="$keep| +#[0-9]+ )"
		drop='fuzzer::|__sanitizer_|libc\.so|nptl/|sysdeps/'
		drop="$drop|stdlib/abort|libc-start|in _?start|in main "
		grep -E "$keep" "$log" | grep -vE "$drop" |
			sed -e 's/ (BuildId: [0-9a-f]*)//' -e 's/^ */    /' |
			head -n 30
		if [ -n "$art" ]; then
			echo "fuzz: $t: input kept in $art" \
				"($(wc -c <"$art") bytes), first 64 in hex:"
			od -An -tx1 -N64 "$art" | sed 's/^ */    /'
			echo "fuzz: $t: reproduce with:"
			echo "    LSAN_OPTIONS=suppressions=$supp" \
				"$B/fuzz_$t $art"
		fi
	fi
done
elapsed=$(( $(date +%s) - started ))
echo "fuzz: $n_targets targets, $total_execs executions," \
	"$total_crashes crashes ($elapsed s)"
[ -z "$failed" ] || { echo "fuzz: failed:$failed" >&2; exit 1; }
exit 0
