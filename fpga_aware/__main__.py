"""``python -m fpga_aware`` runs the command line."""

from fpga_aware.cli import main

raise SystemExit(main())
