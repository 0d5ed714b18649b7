#!/bin/sh
# Matrix end to end against a real Synapse (see tests/lib/matrix_e2e.py).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "$top_srcdir/tests/lib/matrix_e2e.py"
