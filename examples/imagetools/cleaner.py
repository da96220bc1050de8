"""Remove dangling images (untagged top-level images) through the docker SDK.

Why: CI hosts fill up with `<none>` images from rebuilt tags.  This is the kind of code the
fake daemon lets you test without a real Docker: list with a filter, then delete one by one,
keeping going when the daemon refuses one (an image still used by a container).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Cleanup:
    """What a run did: ids removed (or, in a dry run, that would be) and ids the daemon refused."""

    removed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # image id -> the daemon's explanation


def find_dangling(client: Any) -> list[Any]:
    """Dangling images, as the daemon defines them (`docker images --filter dangling=true`)."""
    return list(client.images.list(filters={"dangling": True}))


def remove_dangling(client: Any, *, dry_run: bool = False, force: bool = False) -> Cleanup:
    """Delete every dangling image; a refusal (409 conflict, ...) is recorded, not raised."""
    import docker.errors

    result = Cleanup()
    for image in find_dangling(client):
        if dry_run:
            result.removed.append(image.id)
            continue
        try:
            client.images.remove(image.id, force=force)
        except docker.errors.NotFound:
            continue  # someone else removed it meanwhile: that is what we wanted
        except docker.errors.APIError as exc:
            result.refused[image.id] = str(exc.explanation or exc)
        else:
            result.removed.append(image.id)
    return result
