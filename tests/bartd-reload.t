#!/bin/sh
# Hot reload of the rules while residents post (Prosody + bartd + desk).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/reload.py"
