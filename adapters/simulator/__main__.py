"""`python -m adapters.simulator`."""

import sys

from adapters.simulator.cli import main

sys.exit(main())
