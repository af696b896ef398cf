"""``python -m ropguard_doctor`` is ``ropguard-doctor``."""

import sys

from ropguard_doctor.cli import main

sys.exit(main())
