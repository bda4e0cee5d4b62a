"""xasml.simulate."""
