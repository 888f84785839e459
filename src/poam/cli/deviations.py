"""`poam deviations` (being written)."""
