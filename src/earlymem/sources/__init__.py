"""Readers of real artifacts: boot logs, /proc/iomem, /sys/firmware/memmap.

Each reader turns a file into plain data and raises
:class:`~earlymem.lib.errors.InputError` (file and line) for anything it cannot
read; none of them guesses.
"""
