"""``python -m jaxrl_suite`` is the ``jaxrl-suite`` command."""

import sys

from jaxrl_suite.cli import main

sys.exit(main())
