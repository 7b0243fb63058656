"""``python -m fpga_aware`` runs the command line."""

from .cli import main

raise SystemExit(main())
