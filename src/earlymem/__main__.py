"""``python -m earlymem`` runs the command-line interface."""

from earlymem.cli import main

main()
