#!/bin/sh
# Faults over XMPP: desk 503, kill -9 bartd, Prosody restart; every
# matching message reaches the desk exactly once.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/xmpp_fault.py"
