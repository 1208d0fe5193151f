"""falco_engine: Falco rules files loaded, compiled, indexed by event type and
evaluated against libsinsp events; alerts formatted as Falco formats them."""

from falco_engine.alerts import alert_json, format_alert_text
from falco_engine.describe import DescribeError
from falco_engine.engine import Engine, Match
from falco_engine.results import ErrorCode, LoadMessage, LoadResult, WarningCode
from falco_engine.version import ENGINE_VERSION

__all__ = ["ENGINE_VERSION", "DescribeError", "Engine", "ErrorCode", "LoadMessage", "LoadResult", "Match",
           "WarningCode", "alert_json", "format_alert_text"]
