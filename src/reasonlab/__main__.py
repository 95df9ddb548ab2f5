"""``python -m reasonlab``: the command line (what ``torchrun -m reasonlab pretrain CONFIG`` runs)."""

import sys

from reasonlab.cli import main

sys.exit(main())
