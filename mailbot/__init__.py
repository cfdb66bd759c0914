"""mailbot: an e-mail driven support desk engine (see ../shared/DESIGN.md)."""

__version__ = "0.1.0"
