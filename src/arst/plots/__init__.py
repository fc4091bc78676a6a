"""Figures: each reads tables (and rendered images) and draws; none loads a model."""
