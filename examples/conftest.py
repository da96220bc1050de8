"""Make the example package `imagetools` importable when running `pytest examples`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
