"""The built-in recognisers, registered exactly as a third-party plugin would be."""

from __future__ import annotations

from typing import cast

from ._addresses import builtin_address_recognisers
from ._birthdates import BirthDates
from ._fields import FieldValues
from ._model import Recogniser, Registry
from ._names import PersonNames
from ._pii import builtin_pii_recognisers
from ._secrets import builtin_secret_recognisers


def builtin_recognisers() -> list[Recogniser]:
    """Fresh instances of every built-in recogniser, secrets first."""
    objs: list[object] = [
        *builtin_secret_recognisers(),
        FieldValues(),
        *builtin_pii_recognisers(),
        BirthDates(),
        *builtin_address_recognisers(),
        PersonNames(),
    ]
    return [cast(Recogniser, o) for o in objs]


def default_registry(*, entry_points: bool = True) -> Registry:
    """A new registry holding the built-ins and (unless ``entry_points`` is false) installed plugins."""
    reg = Registry(builtin_recognisers())
    if entry_points:
        reg.load_entry_points()
    return reg
