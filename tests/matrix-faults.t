#!/bin/sh
# Matrix fault test against a real Synapse (see tests/lib/matrix_faults.py).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "$top_srcdir/tests/lib/matrix_faults.py"
