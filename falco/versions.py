"""Version information as ``falco --version``, ``--support`` and /versions give it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from falco_engine import ENGINE_VERSION
from libscap.schema import SCHEMA_VERSION


def falco_version() -> str:
    try:
        return version("falco-py")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0"


def plugin_api_version() -> str:
    from libsinsp.plugin.info import API_VERSION

    return "%d.%d.%d" % API_VERSION


def versions_info() -> dict[str, Any]:
    """Upstream's versions_info JSON: falco-py's own version for Falco and libs
    (they ship together), the plugin API it implements, the rules engine version
    (``engine_version`` the minor alone, as upstream keeps for old tooling), and
    the probe's event schema version (the driver API has no separate number here)."""
    engine = ENGINE_VERSION
    return {
        "falco_version": falco_version(),
        "libs_version": falco_version(),
        "plugin_api_version": plugin_api_version(),
        "driver_api_version": SCHEMA_VERSION,
        "driver_schema_version": SCHEMA_VERSION,
        "default_driver_version": falco_version(),
        "engine_version": engine.split(".")[1],
        "engine_version_semver": engine,
    }


def version_text(info: dict[str, Any]) -> str:
    """The text of ``falco --version``."""
    return (f"Falco version: {info['falco_version']}\n"
            f"Libs version:  {info['libs_version']}\n"
            f"Plugin API:    {info['plugin_api_version']}\n"
            f"Engine:        {info['engine_version_semver']}\n"
            "Driver:\n"
            f"  API version:    {info['driver_api_version']}\n"
            f"  Schema version: {info['driver_schema_version']}\n"
            f"  Default driver: {info['default_driver_version']}\n")
