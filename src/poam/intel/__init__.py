"""Readers of threat and reference data files (KEV, EPSS, ...), loaded from files, never fetched."""
