"""`make reliability`: the long soak of tests/reliability/soak.py."""

import sys

from tests.reliability.soak import main

# The soak lives in its own module: spawned worker processes cannot import a package's __main__.
sys.exit(main())
