"""pytest-dockerimages: a fake Docker daemon for GET /images/json, record/replay, and assertions."""
from __future__ import annotations

__version__ = "0.1.0"
