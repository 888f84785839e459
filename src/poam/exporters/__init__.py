"""Exporters: each writes one deliverable from domain items."""
