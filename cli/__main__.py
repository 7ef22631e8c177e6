"""`python -m cli ...` = `sabiscore ...`."""

from cli.app import main

main()
