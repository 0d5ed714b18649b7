#!/bin/sh
# Each desk down in turn while the others keep receiving.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desks_fault.py"
