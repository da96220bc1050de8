import os
import sys
from pathlib import Path
from typing import NoReturn

import pytest

sys.path.insert(0, str(Path(__file__).parent))

#: DOCKERIMAGES_STRICT=1: a test that needs a real binary (dockerd, containerd, docker-registry, the
#: docker CLI) fails instead of skipping when it is missing, like CI=true does through the plugin's
#: `skip_or_fail`. For a local run that must prove every daemon variant without claiming to be CI.
STRICT_ENV = "DOCKERIMAGES_STRICT"


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


def skip_missing(reason: str) -> NoReturn:
    """Skip a test whose binaries are missing; fail under DOCKERIMAGES_STRICT=1 (or, through the
    plugin's skip_or_fail, when CI is set)."""
    if strict():
        pytest.fail(f"{STRICT_ENV} is set, so not skipping: {reason}", pytrace=False)
    from pytest_dockerimages._real.fixture import skip_or_fail

    skip_or_fail(reason)
