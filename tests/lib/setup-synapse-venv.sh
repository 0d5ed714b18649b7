#!/bin/sh
# setup-synapse-venv.sh: creates (or reuses) the virtualenv holding
# matrix-synapse for the Matrix end-to-end tests and prints its path.
#
# Where: $BART_VENV_CACHE/synapse-venv when BART_VENV_CACHE is set (shared
# by every build tree and kept across runs), else $top_builddir/.venv-synapse
# (the build dir is $1, else $top_builddir, else the current directory).
# CI calls this once
# before `make check` so that no test spends its time in pip.
#
# A venv counts as ready only once the stamp file written after a
# successful install is there and synapse imports; otherwise it is rebuilt.
set -eu

py=${PYTHON3_SYS:-/usr/bin/python3}
[ -x "$py" ] || py=python3
if [ -n "${BART_VENV_CACHE:-}" ]; then
	venv=$BART_VENV_CACHE/synapse-venv
else
	venv=${1:-${top_builddir:-.}}/.venv-synapse
fi
stamp=$venv/.bart-synapse-ready

if [ -f "$stamp" ] && "$venv/bin/python" -c 'import synapse' 2>/dev/null; then
	echo "$venv"
	exit 0
fi

mkdir -p "$(dirname "$venv")"
lock=$venv.lock
# One installer at a time when several tests start at once.
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi
if [ -f "$stamp" ] && "$venv/bin/python" -c 'import synapse' 2>/dev/null; then
	echo "$venv"
	exit 0
fi
rm -rf "$venv"
"$py" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --upgrade pip >&2 || true
"$venv/bin/python" -m pip install -q matrix-synapse >&2
"$venv/bin/python" -c 'import synapse' >&2
touch "$stamp"
echo "$venv"
