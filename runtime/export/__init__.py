"""Export: merge adapters into the base model and write a self-contained model folder."""
