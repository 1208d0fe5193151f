"""The one error type of the plugin layer."""

from __future__ import annotations


class PluginError(Exception):
    """A plugin could not be loaded, initialized or used.

    The message names the plugin (its name, or its library path before the name
    is known) and the symbol, version, field or config value at fault.
    """

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin}: {message}")
        self.plugin = plugin
