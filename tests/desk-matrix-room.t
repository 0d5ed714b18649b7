#!/bin/sh
# Desk chat rooms on Matrix: reports posted into the desk's room (Synapse).
exec "${PYTHON3_SYS:-/usr/bin/python3}" "${top_srcdir:-.}/tests/desk_matrix_room.py"
