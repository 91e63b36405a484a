"""cloud tier."""
