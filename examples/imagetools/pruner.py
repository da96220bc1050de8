"""Prune the images a team labelled as disposable, and say what went.

Why: a CI host keeps images of several kinds; a nightly job deletes the unused ones of one kind
(`docker image prune -a --filter label=...`), lists before and after, and reports. The fake
daemon lets that job be tested without a real Docker: the prune changes the fake's images, the
next listing shows it, and an image a container uses is kept, as dockerd keeps it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PruneRun:
    """Tags before and after, what the daemon reported (as sent, and read), and the space it freed."""

    before: set[str]
    after: set[str]
    untagged: list[str]
    deleted: list[str]
    reclaimed: int
    report: dict[str, Any]

    @property
    def removed(self) -> set[str]:
        return self.before - self.after


def listed_tags(client: Any) -> set[str]:
    return {tag for image in client.images.list() for tag in image.tags}


def prune_labelled(client: Any, label: str) -> PruneRun:
    """Prune every unused image carrying `label` (`key` or `key=value`), tagged or not."""
    before = listed_tags(client)
    report = client.images.prune(filters={"dangling": False, "label": label})
    records = report.get("ImagesDeleted") or []
    return PruneRun(before=before, after=listed_tags(client),
                    untagged=[r["Untagged"] for r in records if "Untagged" in r],
                    deleted=[r["Deleted"] for r in records if "Deleted" in r],
                    reclaimed=int(report.get("SpaceReclaimed") or 0), report=report)
