"""``metadata.dockerimages`` of a cassette: when and by which tool it was recorded, from which daemon,
and the fake's profile for that daemon."""
from __future__ import annotations

import time
from typing import Any, Mapping

from .. import __version__
from .._core.profiles import PROFILES, Profile
from .format import FORMAT

__all__ = ["build_metadata", "now_rfc3339", "profile_for", "tool_version"]


def tool_version() -> str:
    return f"pytest-dockerimages {__version__}"


def profile_for(metadata: Mapping[str, Any]) -> Profile | None:
    """The fake's profile for a recorded daemon: by recorded name, else the closest to its engine and store."""
    from .._real.snapshot import profile_name_for

    name = metadata.get("profile")
    if isinstance(name, str) and name in PROFILES:
        return PROFILES[name]
    daemon = metadata.get("daemon") or {}
    version = str(daemon.get("Version") or "")
    if not version:
        return None
    return PROFILES[profile_name_for(version, str(daemon.get("image_store") or "graphdriver"))]


def build_metadata(version_doc: Mapping[str, Any] | None, info: Mapping[str, Any] | None,
                   recorded_at: str | None = None) -> dict[str, Any]:
    """``metadata.dockerimages`` of a recording: when, which daemon, which image store, which tool."""
    version_doc = version_doc or {}
    daemon = {k: version_doc.get(k) for k in ("Version", "ApiVersion", "MinAPIVersion", "Os")
              if version_doc.get(k) is not None}
    if info is not None:
        from .._real.snapshot import image_store_of

        daemon["image_store"] = image_store_of(info)
    meta: dict[str, Any] = {"format": FORMAT, "recorded_at": recorded_at or now_rfc3339(), "tool": tool_version(),
                            "daemon": daemon}
    profile = profile_for(meta)
    if profile is not None:
        meta["profile"] = profile.name
    return meta


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
