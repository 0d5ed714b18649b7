#!/bin/sh
# XMPP with TLS: verification on, plaintext only when configured.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/xmpp_tls.py"
