"""falco_engine: Falco rules files loaded, compiled, indexed by event type and
evaluated against libsinsp events; alerts formatted as Falco formats them."""
