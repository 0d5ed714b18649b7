#!/bin/sh
# End to end over XMPP: Prosody + bartd + residents (slixmpp) + desks.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/xmpp_e2e.py"
