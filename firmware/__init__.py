"""firmware tier."""
