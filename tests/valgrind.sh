#!/bin/sh
# Runs the real mpdrec binary under valgrind (memcheck: invalid reads and
# writes, uses of uninitialised values, and leaks of kind "definite") through
#  1. tests/test_cli      every command-line path the CLI test takes;
#  2. tests/test_daemon   the daemon against a real MPD: plays, skips, pause,
#                         seek, stop, channel messages, an MPD restart,
#                         SIGHUP reloads, --daemon, SIGTERM;
#  3. a small library (two good files, four bad ones) in a private MPD:
#     `mpdrec analyze`, show, export, status, recommend, then the daemon with
#     its background scan, a few songs played and skipped, SIGTERM.
# Each mpdrec process writes its own valgrind log; any error there fails the
# run. Valgrind slows mpdrec 20-50 times: this is not part of `make check`.
#
# usage: sh tests/valgrind.sh [BUILD_DIR]   (default build; needs
#        BUILD_DIR/mpdrec, BUILD_DIR/tests/test_cli and test_daemon)
set -u
B=${1:-build}
REAL=$(cd "$(dirname "$B/mpdrec")" && pwd)/mpdrec
HERE=$(cd "$(dirname "$0")" && pwd)
for f in "$REAL" "$B/tests/test_cli" "$B/tests/test_daemon"; do
	[ -x "$f" ] || { echo "valgrind.sh: $f missing: make all $B/tests/test_cli $B/tests/test_daemon" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
command -v mpd >/dev/null && command -v mpc >/dev/null && command -v ffmpeg >/dev/null ||
	{ echo "valgrind.sh: needs mpd, mpc and ffmpeg" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/mpdrec-valgrind-XXXXXX")
MPD_PID=""
DAEMON_PID=""
cleanup() {
	[ -z "$DAEMON_PID" ] || kill "$DAEMON_PID" 2>/dev/null
	[ -z "$MPD_PID" ] || { kill "$MPD_PID" 2>/dev/null; wait "$MPD_PID" 2>/dev/null; }
	[ -n "${VALGRIND_KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT INT TERM

# The wrapper the tests run instead of mpdrec (MPDREC_BIN).
mkdir -p "$W/logs"
# OPENBLAS_CORETYPE set: mpdrec keeps the generic kernel and does not
# run itself again for a faster one (an exec would leave valgrind).
cat > "$W/mpdrec" <<EOF
#!/bin/sh
OPENBLAS_CORETYPE=\${OPENBLAS_CORETYPE:-Prescott} exec valgrind --leak-check=full --show-leak-kinds=definite \\
	--errors-for-leak-kinds=definite --error-exitcode=99 \\
	--suppressions="$HERE/valgrind.supp" --num-callers=30 \\
	--log-file="$W/logs/vg.%p.log" "$REAL" "\$@"
EOF
chmod +x "$W/mpdrec"

failed=""
timing=""
# run_test NAME [timing]: with "timing", check failures are reported but do
# not fail the run: under valgrind the daemon answers 20-50 times slower and
# a test with tight real-time bounds may miss one (memory errors still do).
run_test() {
	name=$1
	echo "== $name under valgrind"
	start=$(date +%s)
	MPDREC_BIN="$W/mpdrec" "$B/tests/$name" > "$W/$name.out" 2>&1
	rc=$?
	grep -E '^[0-9]+ passed, [0-9]+ failed' "$W/$name.out" | tail -n 1
	grep -E 'check failed' "$W/$name.out" | head -n 10
	echo "   ($(( $(date +%s) - start )) s, exit $rc)"
	if [ $rc -ne 0 ]; then
		if [ "${2:-}" = timing ] && grep -qE '^[0-9]+ passed, [1-9]' "$W/$name.out"; then
			timing="$timing $name"
		else
			failed="$failed $name"
		fi
	fi
}

run_test test_cli
run_test test_daemon timing

# --- 3. a small library ----------------------------------------------------
echo "== analyze, show, export, status, recommend, run on a small library"
start=$(date +%s)
M="$W/mpd"
mkdir -p "$M/music" "$W/data"
PORT=$(( 20000 + $$ % 20000 ))
cat > "$M/mpd.conf" <<EOF
music_directory "$M/music"
db_file "$M/mpd.db"
log_file "$M/mpd.log"
bind_to_address "127.0.0.1"
port "$PORT"
auto_update "no"
audio_output {
	type "null"
	name "null"
	sync "yes"
	mixer_type "none"
}
EOF
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -f lavfi -i "sine=frequency=440:duration=3" -ar 22050 "$M/music/a.wav"
ff -f lavfi -i "anoisesrc=d=3:a=0.3" -ar 22050 -c:a flac "$M/music/b.flac"
ff -f lavfi -i "sine=frequency=660:duration=3" -ar 22050 "$M/music/c.wav"
ff -f lavfi -i "sine=frequency=330:duration=3" -c:a libvorbis "$M/music/d.ogg"
ff -f lavfi -i "sine=frequency=550:duration=3" -c:a libmp3lame "$M/music/e.mp3"
ff -f lavfi -i "sine=frequency=770:duration=3" -c:a flac "$M/music/f.flac"
mpd --no-daemon "$M/mpd.conf" > "$M/mpd.stderr" 2>&1 &
MPD_PID=$!
export MPD_HOST=127.0.0.1 MPD_PORT=$PORT
i=0
until mpc -q status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "mpd did not start"; exit 1; }
	sleep 0.1
done
mpc -q --wait update
# Files that change behind MPD's back: cut, emptied, random, gone.
head -c 40 "$M/music/c.wav" > "$M/music/c.tmp" && mv "$M/music/c.tmp" "$M/music/c.wav"
: > "$M/music/d.ogg"
head -c 30000 /dev/urandom > "$M/music/e.mp3"
rm "$M/music/f.flac"
cat > "$W/mpdrec.conf" <<EOF
mpd = { host = "127.0.0.1"; port = $PORT; timeout_ms = 30000; };
music_directory = "$M/music";
data_directory = "$W/data";
feedback = { min_duration = 1.0; };
queue = { settle_ms = 50.0; history_hours = 0.001; };
analysis = { jobs = 1; };
EOF
V="$W/mpdrec --config $W/mpdrec.conf"
step() {
	want=$1; shift
	$V "$@" >> "$W/small.out" 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "   mpdrec $*: exit $rc, expected $want"
		failed="$failed small:$1"
	fi
}
step 0 analyze
step 0 show a.wav
step 1 show c.wav
step 0 export --csv "$W/export.csv"
step 0 status
step 0 recommend -n 2
step 0 check-config
# The daemon, its background scan and a few songs.
"$W/mpdrec" --config "$W/mpdrec.conf" run > "$W/daemon.log" 2>&1 &
DAEMON_PID=$!
i=0
until grep -q "connected to MPD" "$W/daemon.log"; do
	i=$((i + 1)); [ $i -lt 600 ] || break
	sleep 0.1
done
mpc -q clear; mpc -q add a.wav; mpc -q add b.flac; mpc -q play
sleep 4.5		# a.wav to its end: a like
mpc -q next		# b.flac skipped at once... if it was current
sleep 1
mpc -q sendmessage mpdrec "like b.flac"
mpc -q sendmessage mpdrec "dislike ../../etc/passwd"
mpc -q --wait update
sleep 3
kill -TERM "$DAEMON_PID"
i=0
while kill -0 "$DAEMON_PID" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 600 ] || { kill -KILL "$DAEMON_PID"; break; }
	sleep 0.1
done
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
events=$(grep -c "info: event " "$W/daemon.log")
echo "   daemon: exit $rc, $events events, $(grep -c 'library scan:' "$W/daemon.log") scans"
[ "$rc" = 0 ] || failed="$failed small:run"
[ "$events" -ge 2 ] || failed="$failed small:events"
echo "   ($(( $(date +%s) - start )) s)"

# --- the verdict -----------------------------------------------------------
procs=$(ls "$W/logs" | wc -l)
bad=0
for f in "$W"/logs/vg.*.log; do
	[ -s "$f" ] || continue
	if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (read|write)|uninitialised|Process terminating" "$f"; then
		bad=$((bad + 1))
		echo "--- $f"
		head -n 60 "$f"
	fi
done
defs=$(cat "$W"/logs/vg.*.log 2>/dev/null | grep -c "definitely lost in")
echo "valgrind: $procs mpdrec processes, $bad with errors, $defs definite leak records"
[ -z "$timing" ] || echo "timing checks missed under valgrind (not memory errors):$timing"
[ -z "$failed" ] || echo "failed:$failed"
[ $bad -eq 0 ] && [ -z "$failed" ]
