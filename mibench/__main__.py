"""``python -m mibench``."""

import sys

from mibench.cli import main

if __name__ == "__main__":
    sys.exit(main())
