"""Tokenization per training stage: one module per processor."""
