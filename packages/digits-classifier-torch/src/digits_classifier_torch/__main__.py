"""``python -m digits_classifier_torch``: the same command line as ``digits-classifier-torch``."""

import sys

from digits_classifier_torch.model import main

sys.exit(main())
