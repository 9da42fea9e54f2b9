"""``python -m zoo``: the same as the ``zoo`` command."""

import sys

from zoo.command_line import main

sys.exit(main())
