#!/bin/sh
# Installs what bart needs to build and test, from Debian's packages.
# Safe to run again: installs only what is missing.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
 libstrophe-dev libcurl4-openssl-dev libjansson-dev libpcre2-dev
 libsqlite3-dev libutf8proc-dev libyaml-dev libssl-dev
 prosody python3 python3-venv python3-slixmpp python3-aiosmtpd wdutch
 sqlite3 curl ca-certificates"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "Installing:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
# The Debian package starts a system-wide Prosody; bart's tests and demo
# run their own on free loopback ports.
if command -v service >/dev/null 2>&1; then
	$SUDO service prosody stop >/dev/null 2>&1 || true
fi
