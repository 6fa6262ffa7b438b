"""miab-tui: the terminal face of the box (and the `miab` command line)."""
