"""xasml.serve."""
