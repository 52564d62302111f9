"""Nodes, zones and the page allocator after boot."""
