"""Boot-time allocators, one module per kernel era: memblock (2.6.37+)."""
