"""`python -m rtgen` runs the same command as `rtgen`."""

from rtgen.cli import main

main()
