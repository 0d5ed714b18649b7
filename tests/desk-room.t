#!/bin/sh
# Desk chat rooms: reports posted into an XMPP room where desk staff read.
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desk_room.py"
