"""edge tier."""
