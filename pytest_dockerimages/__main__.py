"""`python -m pytest_dockerimages ...` runs the `dockerimages` command line."""
import sys

from ._cli.main import main

sys.exit(main())
