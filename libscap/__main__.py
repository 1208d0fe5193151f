"""``python -m libscap``: the libscap command line (see libscap.cli)."""

from libscap.cli import main

raise SystemExit(main())
