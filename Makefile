# mpdrec — one Makefile. `make check` runs every test, `make asan` the same under
# AddressSanitizer and UndefinedBehaviorSanitizer, `make bench` the benchmarks.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

PKGS := libmpdclient libconfig openblas libavformat libavcodec libavutil \
	libswresample aubio sqlite3
# Debian package for each pkg-config name, and the programs the tests run.
DEB_libmpdclient  := libmpdclient-dev
DEB_libconfig     := libconfig-dev
DEB_openblas      := libopenblas-dev
DEB_libavformat   := libavformat-dev
DEB_libavcodec    := libavcodec-dev
DEB_libavutil     := libavutil-dev
DEB_libswresample := libswresample-dev
DEB_aubio         := libaubio-dev
DEB_sqlite3       := libsqlite3-dev
# gcc is Debian's default compiler: without it clang (for make fuzz) would
# become cc on a machine that had none.
TOOLS := gcc:gcc mpd:mpd ffmpeg:ffmpeg mpc:mpc clang:clang chromium:chromium \
	valgrind:valgrind
# Files, not programs or .pc: the C library's headers (a compiler installed
# without recommends lacks them) and libFuzzer's runtime (make fuzz).
FILES := /usr/include/stdio.h:libc6-dev \
	/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev

CC      ?= cc
# Warnings are errors in CI (WERROR=-Werror), not in a user's or packager's
# build, where a newer or different compiler may add a warning.
WERROR  ?=
OPT     ?= -O2
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes \
	-Wstrict-prototypes -Wformat=2 $(WERROR)
# What only the audio analysis links: the mpdrec binary loads it as a
# plugin (daemon/plugin/analysis.h) on its first analysis.
ANALYSIS_PKGS := libavformat libavcodec libavutil libswresample aubio
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MAIN_LIBS  = $(shell pkg-config --libs $(filter-out $(ANALYSIS_PKGS),$(PKGS)) \
	2>/dev/null) -ldl -lpthread -lm
PLUGIN_LIBS = $(shell pkg-config --libs $(ANALYSIS_PKGS) 2>/dev/null) -lm
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DMPDREC_VERSION='"$(VERSION)"' \
	-DMPDREC_LIBDIR='"$(PREFIX)/lib/mpdrec"' -I. \
	$(WARN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm

LIB_SRC   := $(sort $(wildcard core/*.c features/*.c conf/*.c daemon/*.c) \
	$(filter-out daemon/cmd/main.c,$(wildcard daemon/cmd/*.c)))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TLIB_SRC  := $(sort $(wildcard tests/lib/*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))

# Build directory: build/ normally, build-asan/ for the sanitizer build.
B ?= build

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
TLIB_OBJ  := $(TLIB_SRC:%.c=$(B)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
MPDREC    := $(B)/mpdrec
# The analysis plugin: features/ (but path.c) and its entry point, built
# position-independent with every symbol but the entry point hidden.
PLUGIN     := $(B)/libmpdrec-analysis.so
PLUGIN_OBJ := $(patsubst %.c,$(B)/pic/%.o,$(filter-out features/path.c,\
	$(wildcard features/*.c)) daemon/plugin/api.c)

.PHONY: all bins check asan bench deps deps-quiet install uninstall clean demo demo-deps run fuzz valgrind
.DELETE_ON_ERROR:
# Objects of the test and bench programs are kept (not intermediate).
.SECONDARY:

all: $(MPDREC)

# Every program: the daemon, the tests, the benchmarks and the demo. CI
# builds them with the second compiler: make bins CC=clang B=build-clang
# WERROR=-Werror.
bins: $(MPDREC) $(TEST_BIN) $(BENCH_BIN) $(B)/tests/demo

# Order-only: on a fresh machine the libraries are installed before the
# first compile (the pkg-config flags are expanded when a recipe runs).
$(B)/%.o: %.c | deps-quiet
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libmpdrec.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The binary links the plugin's loader, whose analyze_*() stand in for
# features/analyze.c's: nothing of FFmpeg or aubio is linked in (the
# archive's analysis objects are never pulled).
$(MPDREC): $(B)/daemon/cmd/main.o $(B)/daemon/plugin/analysis.o \
		$(B)/libmpdrec.a | $(PLUGIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter-out $(PLUGIN),$^) $(MAIN_LIBS)

$(B)/pic/%.o: %.c | deps-quiet
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(PLUGIN): $(PLUGIN_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,--no-undefined -o $@ $^ \
		$(PLUGIN_LIBS)

$(B)/tests/%: $(B)/tests/%.o $(TLIB_OBJ) $(B)/libmpdrec.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(B)/bench/%: $(B)/bench/%.o $(TLIB_OBJ) $(B)/libmpdrec.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Every test binary runs even when an earlier one fails; the summary line and
# the exit status say whether all passed. MPDREC_BIN lets integration tests
# start the daemon that was built with them.
check: $(MPDREC) $(TEST_BIN)
	@MPDREC_BIN=$(abspath $(MPDREC)) sh tests/run.sh $(TEST_BIN)

asan:
	$(MAKE) B=build-asan OPT=-O1 \
		CFLAGS='-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' \
		LDFLAGS='-fsanitize=address,undefined' check

bench: $(MPDREC) $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; MPDREC_BIN=$(abspath $(MPDREC)) $$b || exit 1; done

# libFuzzer harnesses (tests/fuzz/fuzz_*.c) built with clang under
# build-fuzz/, each run for FUZZ_SECONDS (default 60); CI: FUZZ_SECONDS=10.
fuzz:
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' sh tests/fuzz/run.sh

# A private MPD playing real music (excerpts of the soundtracks Debian
# packages as warzone2100-music and hyperrogue-music, which demo-deps
# installs), the daemon and a scripted listener (tests/demo.c). It keeps
# its log, report and excerpts in $(B)/demo.
DEMO_MUSIC := /usr/share/games/warzone2100/music/menu.opus:warzone2100-music \
	/usr/share/hyperrogue/music/hr3-caves.ogg:hyperrogue-music
demo: $(MPDREC) $(B)/tests/demo demo-deps
	@MPDREC_BIN=$(abspath $(MPDREC)) MPDREC_DEMO_DIR=$(abspath $(B))/demo \
		$(B)/tests/demo

demo-deps:
	@sh tests/deps.sh "" "mpd:mpd ffmpeg:ffmpeg" "$(DEMO_MUSIC)"

# The real binary under valgrind through the CLI and daemon tests (slow:
# not part of check).
valgrind: $(MPDREC) $(B)/tests/test_cli $(B)/tests/test_daemon
	sh tests/valgrind.sh $(B)

# The daemon against the user's own MPD and configuration.
run: $(MPDREC)
	$(MPDREC) run

deps-quiet:
	@sh tests/deps.sh "$(foreach p,$(PKGS),$(p):$(DEB_$(p)))" "$(TOOLS)" "$(FILES)" >/dev/null

deps:
	@sh tests/deps.sh "$(foreach p,$(PKGS),$(p):$(DEB_$(p)))" "$(TOOLS)" "$(FILES)"

install: $(MPDREC)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/doc/mpdrec \
		$(DESTDIR)$(PREFIX)/lib/systemd/user
	install -m 0755 $(MPDREC) $(DESTDIR)$(PREFIX)/bin/mpdrec
	install -d $(DESTDIR)$(PREFIX)/lib/mpdrec
	install -m 0644 $(PLUGIN) $(DESTDIR)$(PREFIX)/lib/mpdrec/
	install -m 0644 conf/mpdrec.conf $(DESTDIR)$(PREFIX)/share/doc/mpdrec/mpdrec.conf
	for m in docs/*.1; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in docs/*.5; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man5/; done; true
	[ ! -f dist/mpdrec.service ] || sed 's|@BINDIR@|$(PREFIX)/bin|g' dist/mpdrec.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/user/mpdrec.service

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/lib/mpdrec
	rm -f $(DESTDIR)$(PREFIX)/bin/mpdrec \
		$(DESTDIR)$(PREFIX)/share/man/man1/mpdrec.1 \
		$(DESTDIR)$(PREFIX)/share/man/man5/mpdrec.conf.5 \
		$(DESTDIR)$(PREFIX)/lib/systemd/user/mpdrec.service
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/mpdrec

clean:
	rm -rf build build-asan build-clang build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
