"""`python -m memvault ...` is the `memvault` command."""

from memvault.cli import main

main()
