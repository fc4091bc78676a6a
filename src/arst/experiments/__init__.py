"""Experiments: each loads trained models and writes a table (and any images it renders)."""
