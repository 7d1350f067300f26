"""Datasets: dataset_info.json, readers, format converters, chat templates, tokenization."""
