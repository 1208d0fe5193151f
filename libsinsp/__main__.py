"""``python -m libsinsp``: the sinsp tool (see libsinsp.cli)."""

from libsinsp.cli import main

raise SystemExit(main())
