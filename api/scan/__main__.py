"""`python -m api.scan`: the same command as the installed `deepfake-scan`."""

import sys

from api.scan.main import main

sys.exit(main())
