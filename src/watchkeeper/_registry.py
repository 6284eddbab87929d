"""The one shape of every extension point's registry: plugins keyed by name, in registration order.

Built-in plugins register exactly as third-party ones do, and installed packages add theirs through an entry-point
group. A room subclasses :class:`PluginRegistry` with its protocol, a plain-words description of what a plugin
needs (for the error a wrong object gets), and its entry-point group.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any, ClassVar, Generic, Protocol, TypeVar


class Named(Protocol):
    name: str


P = TypeVar("P", bound=Named)


class PluginRegistry(Generic[P]):
    """Plugins keyed by name, in registration order."""

    protocol: ClassVar[Any]  # a runtime-checkable Protocol the plugins satisfy
    needs: ClassVar[str]  # "a recogniser needs a name, ..."
    kind: ClassVar[str]  # "recogniser", "signal": used in messages
    group: ClassVar[str]  # entry-point group

    def __init__(self, plugins: Iterable[P] = ()) -> None:
        self._by_name: dict[str, P] = {}
        for p in plugins:
            self.register(p)

    def register(self, plugin: P, *, replace: bool = False) -> P:
        """Add a plugin; a name already taken is an error unless ``replace``."""
        if not isinstance(plugin, self.protocol):
            raise TypeError(self.needs)
        if plugin.name in self._by_name and not replace:
            raise ValueError(f"a {self.kind} named {plugin.name!r} is already registered")
        self._by_name[plugin.name] = plugin
        return plugin

    def unregister(self, name: str) -> None:
        del self._by_name[name]

    def get(self, name: str) -> P:
        return self._by_name[name]

    def names(self) -> list[str]:
        return list(self._by_name)

    def __iter__(self) -> Iterator[P]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)

    def load_entry_points(self, group: str | None = None) -> list[str]:
        """Register the plugins installed packages declare in ``group`` (the room's own by default); names added."""
        added = []
        for ep in entry_points(group=group or self.group):
            obj = ep.load()
            plugin = obj if isinstance(obj, self.protocol) else obj()
            self.register(plugin)
            added.append(plugin.name)
        return added
