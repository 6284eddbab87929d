"""Compiled help for the language signal (``_langscan.c``); optional: import it inside ``try``.

The arrays are any C-contiguous buffers (numpy arrays): their item size and format are checked when called.
"""

class Model:
    def __init__(self, nextmove: object, rowbase: object, output: object, table: object, prior: object, /) -> None: ...
    def score(self, text: bytes, out: object, temper: float = 0.0, /) -> int: ...
