#!/bin/sh
# make deps: install the Debian packages whose pkg-config module or program is
# missing. $1: "pcname:debpkg ..."; $2: "program:debpkg ..."; $3: "file:debpkg
# ...". Does nothing when
# all are present; refuses clearly when something is missing and we are not root.
set -eu
missing=""
command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"
for pair in $1; do
	pc=${pair%%:*}; deb=${pair#*:}
	pkg-config --exists "$pc" 2>/dev/null || missing="$missing $deb"
done
for pair in $2; do
	prog=${pair%%:*}; deb=${pair#*:}
	command -v "$prog" >/dev/null 2>&1 || missing="$missing $deb"
done
for pair in ${3:-}; do
	file=${pair%%:*}; deb=${pair#*:}
	[ -e "$file" ] || missing="$missing $deb"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
