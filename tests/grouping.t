#!/bin/sh
# Follow-ups about one incident: one report, then updates.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/grouping.py"
