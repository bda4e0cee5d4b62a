"""xasml.preprocess."""
