#!/bin/sh
# Sets everything up on a fresh Debian machine and runs a local demo:
# a Prosody chat server with a neighbourhood room, bartd in it, residents
# posting, and desks receiving reports.
#   --matrix  the same with a Matrix room on a local Synapse (installed
#             from PyPI into a virtualenv under _build/ the first time)
#   --stay    keep it running, so you can chat in the room yourself
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
case " $* " in
*" --matrix "*)
	echo "Preparing Synapse (the first run installs it with pip)..."
	"$top/tests/lib/setup-synapse-venv.sh" "$build" >/dev/null ;;
esac
top_srcdir="$top" top_builddir="$build" exec /usr/bin/python3 "$top/contrib/demo.py" "$@"
