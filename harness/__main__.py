import sys

from .cli import main

if __name__ == "__main__":  # the fork server's runs (harness.launcher) import this module without running it
    sys.exit(main())
