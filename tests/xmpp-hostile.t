#!/bin/sh
# XMPP: a misbehaving server (malformed, oversized, spoofed stanzas).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/xmpp_hostile.py"
