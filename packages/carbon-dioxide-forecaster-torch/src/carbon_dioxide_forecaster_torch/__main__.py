"""``python -m carbon_dioxide_forecaster_torch``: the same command line as ``carbon-dioxide-forecaster-torch``."""

import sys

from carbon_dioxide_forecaster_torch.model import main

sys.exit(main())
