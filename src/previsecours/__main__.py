"""`python -m previsecours` is the `previsecours` command."""

from previsecours.cli import main

main()
