"""A complete small Python plugin: an event source with its own fields.

Load it with ``PluginManager().load("libsinsp.plugin.examples.dummy", '{"count": 5}')``
or in falco.yaml::

    plugins:
      - name: dummy
        library_path: libsinsp.plugin.examples.dummy
        init_config: {count: 5, jitter: 3}
        open_params: ""

Each event's payload is a msgpack map ``{"n": <sequence number>, "sample": <value>}``
where value = n * 10 + (n % jitter). Rules match them with ``source: dummy`` and
the fields below, e.g. ``condition: dummy.divisible = true``.
"""

from __future__ import annotations

from typing import Any

from libsinsp.plugin.python_api import EndOfStream, Field, PluginEvent, PythonPlugin


class _Instance:
    def __init__(self, count: int, jitter: int) -> None:
        self.n, self.count, self.jitter = 0, count, jitter

    def next_batch(self) -> list[dict]:
        if self.n >= self.count:
            raise EndOfStream
        batch = []
        while self.n < self.count and len(batch) < 16:
            batch.append({"n": self.n, "sample": self.n * 10 + self.n % self.jitter})
            self.n += 1
        return batch

    def progress(self) -> tuple[float, str]:
        return 100.0 * self.n / max(self.count, 1), f"{self.n}/{self.count}"


class Dummy(PythonPlugin):
    name = "dummy"
    version = "1.0.0"
    description = "counts up, as the example of a Python plugin"
    contact = "https://github.com/falco-py"
    id = 999_001
    event_source = "dummy"
    init_schema = {"type": "object", "additionalProperties": False,
                   "properties": {"count": {"type": "integer", "minimum": 0},
                                  "jitter": {"type": "integer", "minimum": 1}}}
    fields = [
        Field("dummy.n", "uint64", "the sequence number of the event"),
        Field("dummy.value", "uint64", "the sample value", display="Sample"),
        Field("dummy.strvalue", "string", "the sample value as text", add_output=True),
        Field("dummy.divisible", "bool", "whether the value is a multiple of 10"),
        Field("dummy.digit", "uint64", "a decimal digit of the value (index 0 = units)",
              arg="index", arg_required=True),
    ]

    def init(self, config: str) -> None:
        import json

        cfg = json.loads(config or "{}")
        self.count = cfg.get("count", 10)
        self.jitter = cfg.get("jitter", 3)

    def open(self, params: str) -> _Instance:
        return _Instance(self.count, self.jitter)

    def extract(self, event: PluginEvent, field: str, arg: Any) -> Any:
        data = event.data
        value = data["sample"]
        if field == "dummy.n":
            return data["n"]
        if field == "dummy.value":
            return value
        if field == "dummy.strvalue":
            return str(value)
        if field == "dummy.divisible":
            return value % 10 == 0
        if field == "dummy.digit":
            return value // 10**arg % 10
        return None

    def event_to_string(self, event: PluginEvent) -> str:
        return f"n={event.data['n']} sample={event.data['sample']}"


plugin = Dummy
