"""`python -m poam` runs the command line."""

from poam.cli import main

main()
