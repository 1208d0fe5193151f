"""``python -m falco``: the falco command line."""

from falco.cli import main

raise SystemExit(main())
