"""`python -m dcn.cli` runs the dcn command."""

from dcn.cli.app import main

main()
