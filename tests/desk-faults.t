#!/bin/sh
# Each desk down in turn while the others keep receiving; nothing lost,
# nothing twice, per desk.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desk_faults.py"
