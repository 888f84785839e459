"""The pure domain core of poam: standard library only."""
