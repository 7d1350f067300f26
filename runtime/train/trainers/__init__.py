"""Trainers per stage, each a transformers.Trainer with its loss in `compute_loss` (public hooks only)."""
