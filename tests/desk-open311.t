#!/bin/sh
# Open311 desks: Prosody + bartd + a resident + GeoReport v2 endpoints.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desk_open311.py"
