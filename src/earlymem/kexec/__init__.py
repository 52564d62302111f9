"""kexec and kdump: the bzImage format, and (later) segment placement."""
