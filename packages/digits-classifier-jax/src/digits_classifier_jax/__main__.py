"""``python -m digits_classifier_jax``: the same command line as ``digits-classifier-jax``."""

import sys

from digits_classifier_jax.model import main

sys.exit(main())
