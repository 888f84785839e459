"""`poam milestones` (being written)."""
