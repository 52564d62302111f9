"""Output in the kernel's own formats (and JSON), one module per kind of output."""
