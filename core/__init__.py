"""miab-tui's core: every admin operation of a Mail-in-a-Box style box, with no UI."""

from core.box import Box, init_box, locate_box, open_box, seed_demo
from core.errors import MiabError

__all__ = ["Box", "MiabError", "init_box", "locate_box", "open_box", "seed_demo"]
