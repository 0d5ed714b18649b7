#!/bin/sh
# Matrix bad input from a fake homeserver (see tests/lib/matrix_badinput.py).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "$top_srcdir/tests/lib/matrix_badinput.py"
