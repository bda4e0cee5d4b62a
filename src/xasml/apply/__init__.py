"""xasml.apply."""
