#!/bin/sh
# E-mail desks: Prosody + bartd + a resident + a real SMTP server.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desk_email.py"
