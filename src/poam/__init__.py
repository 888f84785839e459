"""poam: build and keep a security Plan of Action and Milestones."""

__version__ = "0.1.0"
