"""Training: one recipe module per stage, a stage table, callbacks and checkpoints."""
