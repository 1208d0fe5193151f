"""falco: the thin command-line program and daemon wiring config, capture,
inspector, rules engine and outputs together."""
