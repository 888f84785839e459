"""`poam review` (being written)."""
