#!/bin/sh
# Sets everything up on a fresh Debian machine and runs a local demo:
# a Prosody chat server with a neighbourhood room, bartd in it, residents
# posting, and desks receiving reports. --matrix: the same with Synapse and
# a Matrix room. Add --stay to keep it running and
# chat in the room yourself with any XMPP client. With --matrix (first
# argument) the room is a Matrix room on a local Synapse instead.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
contrib/install-deps.sh
./autogen.sh >/dev/null
build="$top/_build/demo"
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || ../../configure -q
make -j2 >/dev/null
if [ "${1:-}" = "--matrix" ]; then
	# The same with a Matrix room on a local Synapse (contrib/demo_matrix.py).
	shift
	"$top/tests/lib/setup-synapse-venv.sh" "$build" >/dev/null
	top_srcdir="$top" top_builddir="$build" exec /usr/bin/python3 "$top/contrib/demo_matrix.py" "$@"
fi
top_srcdir="$top" top_builddir="$build" exec /usr/bin/python3 "$top/contrib/demo.py" "$@"
