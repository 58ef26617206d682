"""``python -m probflow`` runs the command line."""

import sys

from probflow.cli import main

sys.exit(main())
