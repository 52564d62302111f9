"""The kernel's early boot, one module per phase in kernel order (see DESIGN.md)."""
