"""`assert_prune_consistent`: a `POST /images/prune` report agrees with the listings before and after it,
and (given the filters) with what the daemon's prune takes for those filters.

The report and the listings must tell one story: what is reported gone is gone and was there, nothing
else went, an image a container uses stays. For the filters, the daemon's own prune (`_core/prune.py`)
runs over a store rebuilt from the listing before, as `assert_filter_semantics` runs `select`: an image
the report touches and that prune keeps was pruned wrongly; one prune takes and the report keeps was
kept wrongly, which is decided only when the listing counts containers (API 1.51+ or `/system/df`
images), since a used image, and on the graphdriver store its parents, stay.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

from .._core.errors import DaemonError
from .._core.filters import _until_cutoffs
from .._core.listed import build_images
from .._core.model import ID_RE, ImageStore
from .._core.profiles import Profile, get_profile
from .._core.prune import parse_prune_filters, prune_images
from .._core.query import FilterArgs
from .._core.render import NONE_DIGEST, NONE_TAG
from .._core.timestamps import NANOS
from .common import (
    Body,
    FiltersLike,
    Problem,
    ProfileLike,
    canonical_text,
    documents,
    fail,
    filter_args,
    int_field,
    label,
    parse_json,
)
from .filter_semantics import _guess_profile

ReportBody = Union[bytes, bytearray, str, Mapping[str, Any]]
Doc = Mapping[str, Any]
# `until` compares creation times the listing gives in whole seconds, against an instant taken when the
# prune ran (a duration counts back from then, not from the check): images this near it go either way
UNTIL_SLACK_NS = 60 * NANOS


def _names(doc: Doc, containerd: bool) -> list[str]:
    """The names a prune untags: RepoTags (on the containerd store also its digest records), and on the
    graphdriver store the RepoDigests references too."""
    keys = ("RepoTags",) if containerd else ("RepoTags", "RepoDigests")
    return [n for key in keys for n in doc.get(key) or () if isinstance(n, str) and n not in (NONE_TAG, NONE_DIGEST)]


def _indexed(docs: Sequence[Doc]) -> dict[str, tuple[int, Doc]]:
    return {doc["Id"]: (i, doc) for i, doc in enumerate(docs) if isinstance(doc.get("Id"), str)}


def _records(report: Any) -> tuple[list[str], list[str], list[Problem]]:
    """The Untagged and Deleted names of an ImagesPruneReport, and what is malformed in it."""
    if not isinstance(report, Mapping):
        return [], [], [Problem("report", "", f"expected a JSON object (ImagesPruneReport), got "
                                              f"{type(report).__name__}")]
    problems = []
    entries = report.get("ImagesDeleted")
    if entries is not None and not isinstance(entries, list):
        problems.append(Problem("report", "", f"ImagesDeleted is {entries!r:.60}, expected a list or null"))
        entries = []
    untagged: list[str] = []
    deleted: list[str] = []
    for i, entry in enumerate(entries or ()):
        keys = [k for k in ("Untagged", "Deleted") if isinstance(entry, Mapping) and entry.get(k)]
        if len(keys) != 1 or not isinstance(entry[keys[0]], str):
            problems.append(Problem("report", f"ImagesDeleted[{i}]", f"{entry!r:.80}, expected one of Untagged or "
                                                                      f"Deleted, a name"))
            continue
        (untagged if keys[0] == "Untagged" else deleted).append(entry[keys[0]])
    reclaimed = report.get("SpaceReclaimed")
    if isinstance(reclaimed, bool) or not isinstance(reclaimed, int) or reclaimed < 0:
        problems.append(Problem("report", "", f"SpaceReclaimed is {reclaimed!r}, expected an integer >= 0"))
    return untagged, deleted, problems


@dataclass
class _Story:
    """The listings and the report, indexed as the rules read them."""

    before: dict[str, tuple[int, Doc]]
    after: dict[str, tuple[int, Doc]]
    untagged: set[str]
    deleted: set[str]
    containerd: bool
    owner: dict[str, str] = field(default_factory=dict)  # name listed before -> image id

    def where(self, image_id: str) -> str:
        index, doc = self.before.get(image_id) or self.after[image_id]
        return label(doc, index)

    def names(self, image_id: str) -> list[str]:
        return _names(self.before[image_id][1], self.containerd)

    def touched(self, image_id: str) -> set[str]:
        """What the report untags of this image (a containerd dangling record is untagged by image id)."""
        return {n for n in (*self.names(image_id), image_id) if n in self.untagged}

    def used(self, image_id: str) -> int:
        return int_field(self.before[image_id][1], "Containers") or 0


def _record_problems(story: _Story, untagged: list[str], deleted: list[str]) -> list[Problem]:
    """Each record names something listed before and gone after."""
    problems = []
    after_names = {n: image_id for image_id, (_, doc) in story.after.items() for n in _names(doc, story.containerd)}
    for name in untagged:
        hidden = name in story.deleted and name not in story.after and ID_RE.match(name)  # all=0 hid it
        if name not in story.owner and name not in story.before and not hidden:
            problems.append(Problem("Untagged", "", f"{name!r} names no image or reference listed before the prune"))
        if name in after_names:
            problems.append(Problem("Untagged", story.where(after_names[name]),
                                    f"{name!r} is reported untagged but still listed after the prune"))
    for name in deleted:
        if not ID_RE.match(name):
            problems.append(Problem("Deleted", "", f"{name!r} is not an image id, layer or digest ('sha256:' + 64 "
                                                   f"lowercase hex)"))
        elif name in story.after:
            problems.append(Problem("Deleted", story.where(name), "reported deleted but still listed after the prune"))
    return problems


def _image_problems(story: _Story) -> list[Problem]:
    """Nothing went without a record, and an image a container uses stays with a name."""
    problems = []
    for image_id in story.before:
        where, names, used = story.where(image_id), story.names(image_id), story.used(image_id)
        gone = [n for n in names if n in story.untagged]
        if image_id in story.deleted:
            if used > 0:
                problems.append(Problem("in use", where, f"deleted, but {used} container(s) use it (a prune never "
                                                         f"deletes an image a container uses)"))
            continue
        if used > 0 and names and len(gone) == len(names):
            problems.append(Problem("in use", where, f"every name untagged ({', '.join(gone)}), but {used} "
                                                     f"container(s) use it: the daemon keeps one of its names"))
        if image_id not in story.after:
            if not story.containerd and names and len(gone) == len(names):
                continue  # kept for its children: an intermediate image now, which all=0 does not list
            problems.append(Problem("vanished", where, "missing from the listing after the prune, but the report "
                                                       "does not delete it"))
            continue
        still = set(_names(story.after[image_id][1], story.containerd))
        for name in names:
            if name not in story.untagged and name not in still:
                problems.append(Problem("vanished", where, f"{name!r} is gone after the prune without an Untagged "
                                                           f"record"))
    parents = {doc.get("ParentId") for _, doc in story.before.values()}
    for image_id in story.after:
        if image_id not in story.before and image_id not in parents:  # a parent: all=0 hid it before
            problems.append(Problem("appeared", story.where(image_id), "listed after the prune but not before (a "
                                                                       "prune adds no image)"))
    return problems


# --------------------------------------------------------------------------- the filters


@dataclass
class _Outcome:
    """What one prune run over the rebuilt store does to each image listed before."""

    untagged: dict[str, set[str]]
    deleted: set[str]

    def touches(self, image_id: str) -> bool:
        return image_id in self.deleted or bool(self.untagged.get(image_id))


class _Model:
    """The daemon's prune over the listing before, with the filters as given or with one of them relaxed
    (to say which filter keeps an image)."""

    def __init__(self, story: _Story, docs: Sequence[Doc], profile: Profile, now_ns: int) -> None:
        self.story, self.profile, self.now_ns = story, profile, now_ns
        listed = [doc for doc in docs if isinstance(doc.get("Id"), str)]
        self.store = ImageStore(build_images(listed, {}, profile.store, skip_invalid=True))
        self._runs: dict[str, _Outcome] = {}

    def run(self, args: FilterArgs) -> _Outcome:
        text = json.dumps(args, sort_keys=True)
        if text not in self._runs:
            _, report = prune_images(self.store, text, self.profile, self.now_ns)
            untagged: dict[str, set[str]] = {}
            deleted: set[str] = set()
            for record in report["ImagesDeleted"] or ():
                name = record.get("Untagged") or record.get("Deleted", "")
                owner = self.story.owner.get(name, name)
                if "Untagged" in record and owner in self.story.before:
                    untagged.setdefault(owner, set()).add(name)
                elif "Deleted" in record and name in self.story.before:
                    deleted.add(name)
            self._runs[text] = _Outcome(untagged, deleted)
        return self._runs[text]


def _uncertain(story: _Story, args: FilterArgs, profile: Profile, now_ns: int) -> set[str]:
    """Images `until` cannot decide from a listing: created (in whole seconds) near the instant, or
    without a creation time."""
    if "until" not in args:
        return set()
    try:
        cutoffs = _until_cutoffs(args, profile, now_ns)
    except DaemonError:
        return set()
    out = set()
    for image_id, (_, doc) in story.before.items():
        created = int_field(doc, "Created")
        if not created or any(abs(created * NANOS - cut) <= UNTIL_SLACK_NS for cut in cutoffs):
            out.add(image_id)
    return out


def _reason(model: _Model, args: FilterArgs, image_id: str) -> str:
    """Which filter keeps the image: the first that, relaxed, lets the daemon's prune take it."""
    doc = model.story.before[image_id][1]
    relaxed: list[tuple[FilterArgs, str]] = [
        ({**args, "dangling": {"false": True}},
         f"it is tagged ({', '.join(model.story.names(image_id))}) and without dangling=false only dangling "
         f"images are pruned"),
        ({k: v for k, v in args.items() if k not in ("label", "label!")},
         f"its labels {json.dumps(doc.get('Labels') or {})} fail "
         f"{canonical_text({k: v for k, v in args.items() if k in ('label', 'label!')})}"),
        ({k: v for k, v in args.items() if k != "until"},
         f"it was created at {doc.get('Created')} (Unix time), not before until={sorted(args.get('until', {}))}"),
    ]
    for loosened, why in relaxed:
        if loosened != args and model.run(loosened).touches(image_id):
            return why
    return "the daemon's prune, run over the listing before, keeps it"


def _filter_problems(story: _Story, docs: Sequence[Doc], filters: FiltersLike, profile: Profile,
                     now_ns: int) -> tuple[list[Problem], str]:
    """What went against what the daemon's prune takes for these filters; the note says what was decided."""
    args = filter_args(filters, profile)
    try:
        parse_prune_filters(json.dumps(args), profile)
    except DaemonError as exc:
        return [Problem("filters", "", f"the daemon answers {exc.status} {exc.message!r} to these filters, not a "
                                       f"prune report")], ""
    model = _Model(story, docs, profile, now_ns)
    record_times = story.containerd and "until" in args  # containerd's until reads record times: not listed
    run_args = {k: v for k, v in args.items() if k != "until"} if record_times else args
    try:
        predicted = model.run(run_args)
    except DaemonError as exc:
        return [Problem("filters", "", f"the daemon answers {exc.status} {exc.message!r} to these filters")], ""
    counted = all(int_field(doc, "Containers") is not None and story.used(image_id) >= 0
                  for image_id, (_, doc) in story.before.items())
    decide_kept = counted and not record_times
    note = "" if decide_kept else ("; images kept are not checked: " + (
        "on the containerd store until reads record times, which a listing does not show" if record_times else
        "the listing before does not count containers (list at API 1.51+, or pass /system/df's Images)"))
    skip = set() if record_times else _uncertain(story, args, profile, now_ns)
    problems = []
    for image_id in story.before:
        if image_id in skip:
            continue
        where, used = story.where(image_id), story.used(image_id)
        actual, expected = story.touched(image_id), predicted.untagged.get(image_id, set())
        deleted, want_deleted = image_id in story.deleted, image_id in predicted.deleted
        if used > 0:  # which name a used image keeps is the daemon's choice: compare how many go
            if len(actual) > len(expected):
                why = f"expected {len(expected)}" if expected else _reason(model, run_args, image_id)
                problems.append(Problem("pruned wrongly", where, f"{len(actual)} name(s) untagged "
                                                                 f"({', '.join(sorted(actual))}), but {why}"))
            elif decide_kept and len(actual) < len(expected):
                problems.append(Problem("kept wrongly", where, f"{len(actual)} name(s) untagged, expected "
                                                               f"{len(expected)}: all but one, as a container uses it"))
            continue
        extra = sorted(actual - expected)
        wrongly_deleted = deleted and not want_deleted
        if extra or wrongly_deleted:
            what = " and ".join([f"untagged {', '.join(extra)}"] * bool(extra) + ["deleted"] * wrongly_deleted)
            problems.append(Problem("pruned wrongly", where, f"{what}, but {_reason(model, run_args, image_id)}"))
        if not decide_kept:
            continue
        missing = sorted(expected - actual)
        hidden = not story.containerd and image_id not in story.after and story.names(image_id) and not missing
        if missing or (want_deleted and not deleted and not hidden):
            what = f"{', '.join(missing)} not untagged" if missing else "not deleted"
            problems.append(Problem("kept wrongly", where, f"passes the filters and no container uses it, but "
                                                           f"{what} (the daemon's prune takes it)"))
    return problems, note


# --------------------------------------------------------------------------- the helper


def assert_prune_consistent(before: Body, report: ReportBody, after: Body, *, filters: FiltersLike = None,
                            profile: ProfileLike = None, now_ns: int | None = None) -> None:
    """The `POST /images/prune` report agrees with the listings (`GET /images/json`) before and after it.

    Every `Untagged` name and `Deleted` image was listed before and is gone after (other `Deleted`
    entries are layers or manifests, never listed); nothing else went; no image a container uses was
    deleted or lost its last name; `SpaceReclaimed` is an integer >= 0.  With `filters` (as sent to the
    prune, either JSON form), what went is what the daemon's prune takes for them: dangling images only
    unless `dangling=false`, `label`/`label!`, `until`.  Images kept wrongly are found when the listing
    before counts containers (API 1.51+).  Without `profile`, the store is guessed from the listings;
    `now_ns`: where an `until` duration counts from (default: now).
    """
    __tracebackhide__ = True
    docs_before, problems = documents(before)
    docs_after, after_problems = documents(after)
    parsed, report_problems = parse_json(report)
    problems += [Problem(p.rule, f"after {p.where}", p.text) for p in after_problems]
    problems += report_problems
    untagged, deleted, shape = _records(parsed) if not report_problems else ([], [], [])
    problems += shape
    if profile is not None:
        chosen = get_profile(profile)
        note = f"profile {chosen.name}"
    else:
        chosen = _guess_profile([*docs_before, *docs_after])
        note = f"profile {chosen.name}, guessed from the listings: pass profile= to be exact"
    story = _Story(_indexed(docs_before), _indexed(docs_after), set(untagged), set(deleted), chosen.is_containerd)
    story.owner = {name: image_id for image_id in story.before for name in story.names(image_id)}
    problems += _record_problems(story, untagged, deleted)
    problems += _image_problems(story)
    if filters is not None:
        found, decided = _filter_problems(story, docs_before, filters, chosen,
                                          now_ns if now_ns is not None else time.time_ns())
        problems += found
        note += f"; filters {canonical_text(filter_args(filters, chosen))}{decided}"
    fail(f"prune report does not agree with the listings before and after ({note})", problems)
