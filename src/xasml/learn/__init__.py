"""xasml.learn."""
