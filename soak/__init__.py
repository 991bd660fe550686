"""The fault soak: `python -m soak` (see __main__.py)."""
