#!/bin/sh
# XMPP robustness: a frozen server, a kick, an oversized message.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/xmpp_robust.py"
