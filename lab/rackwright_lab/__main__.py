"""Entry point: python -m rackwright_lab."""

import sys

from rackwright_lab.cli import main

sys.exit(main())
