"""Scan parsers: one small module per format, each yielding domain records from a stream."""
