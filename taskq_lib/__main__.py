"""``python -m taskq_lib`` runs the ``taskq`` command line."""

from .cli import main

raise SystemExit(main())
