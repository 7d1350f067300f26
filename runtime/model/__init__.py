"""Model loading, adapters, and the tiny model used by tests and the demo."""
