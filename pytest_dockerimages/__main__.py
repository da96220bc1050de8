"""`python -m pytest_dockerimages ...` runs the `dockerimages` command line."""
import sys

from .cli import main

sys.exit(main())
