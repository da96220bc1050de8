"""The differential check: the same requests to a real daemon and to the fake seeded from its
snapshot; every difference reported in words, apart from a short list of known ones.

What it compares: GET /_ping, /images/json, /images/{name}/json (inspect), /images/{name}/history
and /system/df and, only when asked (`include_prune`: it deletes images on the daemon), a sequence
of POST /images/prune sent to both sides in the same order, each followed by the listing and
/system/df. Probe generation
and comparison are pure; `run_check` does the I/O.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import quote

from .._core.model import Image
from .._core.profiles import Profile, get_profile, version_tuple

READ_HEADERS = ("Api-Version", "Content-Type", "Docker-Experimental", "Ostype", "Server", "Builder-Version", "Swarm")


@dataclass(frozen=True)
class Probe:
    method: str
    target: str
    note: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


#: The connection closed without a response (status 0: no HTTP status was sent).
NO_ANSWER = Answer(0, {}, b"(connection closed without a response)")


@dataclass(frozen=True)
class Difference:
    probe: Probe
    what: str
    daemon: str
    fake: str

    def render(self) -> str:
        return (f"{self.probe.method} {self.probe.target}" + (f"  ({self.probe.note})" if self.probe.note else "")
                + f"\n  {self.what}\n    daemon: {self.daemon}\n    fake:   {self.fake}")


@dataclass
class CheckReport:
    profile: str
    probes: int = 0
    differences: list[Difference] = field(default_factory=list)
    known: list[tuple[Probe, str]] = field(default_factory=list)
    warning: str | None = None  # the daemon's release has no profile of its own
    pruned: list[int] | None = None  # images each prune deleted on the daemon (None: prune not sent)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def identical(self) -> int:
        """Requests whose answers agree under the check's rules, with no difference excused."""
        return self.probes - len({id(d.probe) for d in self.differences} | {id(p) for p, _ in self.known})

    def render(self) -> str:
        share = f"{100 * self.identical / self.probes:.1f} %" if self.probes else "-"
        excused = len({id(p) for p, _ in self.known})
        lines = [f"profile {self.profile}: {self.probes} requests, {len(self.differences)} differences, "
                 f"{excused} known differences; {self.identical} of {self.probes} answers identical ({share})"]
        lines += [d.render() for d in self.differences]
        reasons: dict[str, int] = {}
        for _, reason in self.known:
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += [f"known ({count} requests): {reason}" for reason, count in reasons.items()]
        if self.pruned is not None:
            lines.append(f"prunes deleted {sum(self.pruned)} images on the daemon "
                         f"(per prune, in order: {', '.join(map(str, self.pruned))})")
        if self.warning:
            lines.append(f"warning: {self.warning}")
        return "\n".join(lines)


# --- what the check compares, and what it excuses -------------------------------------------------
#
# Two kinds of normalisation. A *silent* one removes what is no difference at all (an order the
# daemon itself leaves to chance); an *excuse* removes a real difference that no snapshot can
# reproduce, and the report names its reason for every request where it was needed.


def route_of(probe: Probe) -> str:
    """The probe's endpoint without the version prefix and query: "/images/json", "/system/df",
    "/images/prune", "/images/{name}/history" or the path itself."""
    from urllib.parse import urlsplit

    path = re.sub(r"^/v[0-9.]+(?=/)", "", urlsplit(probe.target).path)
    if path.startswith("/images/") and path.endswith("/history"):
        return "/images/{name}/history"
    if path.startswith("/images/") and path.endswith("/json") and path != "/images/json":
        return "/images/{name}/json"
    return path


def _filters_of(probe: Probe) -> dict[str, Any]:
    from urllib.parse import parse_qs, urlsplit

    values = parse_qs(urlsplit(probe.target).query).get("filters")
    try:
        parsed = json.loads(values[0]) if values else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


_BRACKETED = re.compile(r"=\[([^\]]*)\]")


def _normalise_message(text: str) -> str:
    """Go prints a set of values in map order: `dangling=[true false]` is `dangling=[false true]`."""
    return _BRACKETED.sub(lambda m: "=[" + " ".join(sorted(m.group(1).split())) + "]", text)


def _same_second_by_id(items: list[Any]) -> list[Any]:
    """Silent: the daemon sorts images by Created with an unstable sort over a map, so images of the
    same second come in any order. Within each run of equal Created, order by Id; across runs the
    order stays as sent, so a wrong order by Created is still a difference."""
    out: list[Any] = []
    run: list[Any] = []
    for item in items:
        if run and not (isinstance(item, dict) and isinstance(run[0], dict)
                        and item.get("Created") == run[0].get("Created")):
            out += sorted(run, key=lambda i: str(i.get("Id")) if isinstance(i, dict) else "")
            run = []
        run.append(item)
    return out + sorted(run, key=lambda i: str(i.get("Id")) if isinstance(i, dict) else "")


def _silent(route: str, body: Any) -> Any:
    """Normalise what is no difference: the orders a daemon leaves to chance."""
    if route == "/images/prune" and isinstance(body, dict) and isinstance(body.get("ImagesDeleted"), list):
        # the daemon walks its prune candidates in Go map order: the same records, in a random order
        return {**body, "ImagesDeleted": sorted(body["ImagesDeleted"], key=lambda r: json.dumps(r, sort_keys=True))}
    if route == "/images/json" and isinstance(body, list):
        return _same_second_by_id(body)
    if route == "/system/df" and isinstance(body, dict):
        body = dict(body)
        if isinstance(body.get("Images"), list):
            body["Images"] = _same_second_by_id(body["Images"])
        usage = body.get("ImageUsage")
        if isinstance(usage, dict) and isinstance(usage.get("Items"), list):
            body["ImageUsage"] = {**usage, "Items": _same_second_by_id(usage["Items"])}
    return body


@dataclass(frozen=True)
class Excuse:
    """A difference the fake cannot avoid: where it applies, and what it removes from both bodies
    (`strip(body, known_ids)`; known_ids: the image and manifest ids of the snapshot)."""

    reason: str
    applies: Callable[[Probe, Profile], bool]
    strip: Callable[[Any, frozenset[str]], Any]


_DROP = object()


def _map_dicts(body: Any, change: Callable[[str, Any], Any]) -> Any:
    """Rebuild a JSON value, passing each object member through `change(key, value)` (_DROP drops it)."""
    if isinstance(body, dict):
        out = {}
        for key, value in body.items():
            value = change(key, _map_dicts(value, change))
            if value is not _DROP:
                out[key] = value
        return out
    if isinstance(body, list):
        return [_map_dicts(v, change) for v in body]
    return body


def _without(*keys: str) -> Callable[[Any, frozenset[str]], Any]:
    """A strip that drops these object members wherever they are."""
    return lambda body, _known: _map_dicts(body, lambda key, value: _DROP if key in keys else value)


def _container_ids_only(key: str, value: Any) -> Any:
    if key in ("Containers", "Items") and isinstance(value, list) and value and isinstance(value[0], dict) \
            and "ImageID" in value[0]:
        return [{"Id": c.get("Id"), "ImageID": c.get("ImageID")} for c in value]
    if key == "ContainerUsage" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("Reclaimable", "TotalSize")}
    return value


def _known_deletions(body: Any, known: frozenset[str]) -> Any:
    if isinstance(body, dict) and isinstance(body.get("ImagesDeleted"), list):
        kept = [r for r in body["ImagesDeleted"]
                if not isinstance(r, dict) or "Deleted" not in r or r["Deleted"] in known]
        return {**body, "ImagesDeleted": kept or None}
    return body


def _route_is(*routes: str) -> Callable[[Probe], bool]:
    return lambda probe: route_of(probe) in routes


#: Every excuse names the daemon behaviour that no snapshot can reproduce.
EXCUSES: tuple[Excuse, ...] = (
    Excuse("until on the containerd store compares the record time, which no API exposes",
           lambda probe, profile: profile.is_containerd and "until" in _filters_of(probe)
           and _route_is("/images/json", "/images/prune")(probe),
           lambda body, _known: None),
    Excuse("system df describes each container (Names, State, SizeRw, ...): the fake serves images, and a "
           "snapshot keeps a container as the id of the image it uses",
           lambda probe, profile: _route_is("/system/df")(probe),
           lambda body, _known: _map_dicts(body, _container_ids_only)),
    Excuse("on the containerd store LayersSize, TotalSize and SpaceReclaimed add each content blob once "
           "(configs, compressed layers) and the containers' snapshots: no API gives a blob's size or "
           "digest, only each manifest's total",
           lambda probe, profile: profile.is_containerd and _route_is("/system/df", "/images/prune")(probe),
           _without("LayersSize", "TotalSize", "SpaceReclaimed")),
    Excuse("Docker 29 on the containerd store adds the content blobs images share to SharedSize (and so "
           "to Reclaimable): no API gives a blob's size",
           lambda probe, profile: profile.shared_size_counts_content
           and _route_is("/system/df", "/images/json")(probe),
           _without("SharedSize", "Reclaimable")),
    Excuse("Docker 26.1 and 28.1 on the containerd store report every content blob a prune removed as "
           "Deleted (configs, layers): no API shows those digests",
           lambda probe, profile: profile.prune_reports_every_blob and _route_is("/images/prune")(probe),
           _known_deletions),
)


def _excuses_for(probe: Probe, profile: Profile) -> list[Excuse]:
    return [e for e in EXCUSES if e.applies(probe, profile)]


def compare(probe: Probe, daemon: Answer, fake: Answer, profile: Profile,
            known_ids: frozenset[str] = frozenset()) -> tuple[list[Difference], list[str]]:
    """Differences between two answers to one probe, and the reasons of the excuses it needed
    (each excuse counts only where the bodies differ without it)."""
    if NO_ANSWER in (daemon, fake) and daemon != fake:
        return [Difference(probe, "answer", *(f"{a.status} {a.body[:200]!r}" for a in (daemon, fake)))], []
    diffs = []
    if daemon.status != fake.status:
        diffs.append(Difference(probe, "status", str(daemon.status), str(fake.status)))
    for name in READ_HEADERS:
        if daemon.headers.get(name) != fake.headers.get(name):
            diffs.append(Difference(probe, f"header {name}", repr(daemon.headers.get(name)),
                                    repr(fake.headers.get(name))))
    excuses = _excuses_for(probe, profile) if daemon.status == fake.status == 200 else []
    bodies = _compare_bodies(probe, daemon, fake, excuses, known_ids)
    if bodies or not excuses:
        return diffs + bodies, []
    needed = [e.reason for e in excuses
              if _compare_bodies(probe, daemon, fake, [x for x in excuses if x is not e], known_ids)]
    return diffs, needed


def _compare_bodies(probe: Probe, daemon: Answer, fake: Answer, excuses: Sequence[Excuse],
                    known_ids: frozenset[str]) -> list[Difference]:
    if "json" not in daemon.headers.get("Content-Type", ""):
        if daemon.body != fake.body:
            return [Difference(probe, "body", repr(daemon.body[:300]), repr(fake.body[:300]))]
        return []
    try:
        left, right = json.loads(daemon.body), json.loads(fake.body)
    except ValueError:
        return [Difference(probe, "body (not JSON)", repr(daemon.body[:300]), repr(fake.body[:300]))]
    if isinstance(left, dict) and isinstance(right, dict) and "message" in left:
        if _normalise_message(str(left["message"])) != _normalise_message(str(right.get("message"))):
            return [Difference(probe, "error message", left["message"], str(right.get("message")))]
        return []
    route = route_of(probe)
    left, right = _silent(route, left), _silent(route, right)
    for excuse in excuses:
        left, right = excuse.strip(left, known_ids), excuse.strip(right, known_ids)
    if route == "/images/json" and isinstance(left, list) and isinstance(right, list):
        return _compare_listings(probe, left, right)
    return [Difference(probe, where, a, b) for where, a, b in json_differences(left, right)]


def json_differences(left: Any, right: Any, path: str = "body", limit: int = 8) -> list[tuple[str, str, str]]:
    """Where two JSON values differ, as (path, daemon, fake), at most `limit`. Object key order
    counts (Go writes struct fields in order); list items that are objects with an Id are named by it."""
    out: list[tuple[str, str, str]] = []

    def walk(a: Any, b: Any, where: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            if list(a) != list(b):
                out.append((f"{where} keys", ",".join(a), ",".join(b)))
            for key in a:
                if key in b:
                    walk(a[key], b[key], f"{where}.{key}")
            return
        if isinstance(a, list) and isinstance(b, list):
            ids_a, ids_b = _unique_ids(a), _unique_ids(b)
            if ids_a is not None and ids_b is not None and ids_a != ids_b:
                what = "order" if sorted(ids_a) == sorted(ids_b) else "items"
                out.append((f"{where} {what}", f"{len(a)}: {_ids(a)}", f"{len(b)}: {_ids(b)}"))
                return
            if len(a) != len(b):
                out.append((f"{where} length", f"{len(a)}: {_ids(a)}", f"{len(b)}: {_ids(b)}"))
                return
            for n, (x, y) in enumerate(zip(a, b, strict=True)):
                name = x.get("Id") if isinstance(x, dict) and isinstance(x.get("Id"), str) else None
                walk(x, y, f"{where}[{name[7:19] if name and name.startswith('sha256:') else n}]")
            return
        if json.dumps(a) != json.dumps(b):
            out.append((where, json.dumps(a)[:300], json.dumps(b)[:300]))

    walk(left, right, path)
    return out


def _unique_ids(items: list[Any]) -> list[str] | None:
    """The items' Ids when every item is an object with its own Id (images, containers), else None."""
    ids: list[str] = [i["Id"] for i in items if isinstance(i, dict) and isinstance(i.get("Id"), str)]
    return ids if len(ids) == len(items) and len(set(ids)) == len(ids) else None


def _ids(items: list[Any]) -> str:
    names = [str(i["Id"])[7:19] if isinstance(i, dict) and "Id" in i else json.dumps(i)[:90] for i in items]
    return ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")


def _compare_listings(probe: Probe, left: list[Any], right: list[Any]) -> list[Difference]:
    by_id_left = {str(i.get("Id")): i for i in left}
    by_id_right = {str(i.get("Id")): i for i in right}
    diffs = []
    missing = [i for i in by_id_left if i not in by_id_right]
    extra = [i for i in by_id_right if i not in by_id_left]
    if missing or extra:
        diffs.append(Difference(probe, "images listed",
                                f"{len(left)} images; only here: {_describe(missing, by_id_left)}",
                                f"{len(right)} images; only here: {_describe(extra, by_id_right)}"))
    for image_id, item in by_id_left.items():
        other = by_id_right.get(image_id)
        if other is None:
            continue
        if list(item) != list(other):
            diffs.append(Difference(probe, f"{image_id[7:19]} keys", ",".join(item), ",".join(other)))
        for key in item:  # as encoded: nested key order counts (Size is {Content, Total}, not the reverse)
            if key in other and json.dumps(item[key]) != json.dumps(other[key]):
                diffs.append(Difference(probe, f"{image_id[7:19]} {key}", json.dumps(item[key]),
                                        json.dumps(other[key])))
    order_left = [i.get("Created") for i in left]
    if not diffs and order_left != [i.get("Created") for i in right]:
        diffs.append(Difference(probe, "order by Created", str(order_left), str([i.get("Created") for i in right])))
    return diffs


def _describe(ids: list[str], items: dict[str, Any]) -> str:
    if not ids:
        return "-"
    return ", ".join(f"{i[7:19]} {((items[i].get('RepoTags') or ['<untagged>']) + [''])[0]}" for i in ids)


# --- probes -------------------------------------------------------------------------------------------

def _target(filters: dict[str, Any] | None, *, version: str | None = None, map_form: bool = False,
            extra: Sequence[tuple[str, str]] = ()) -> str:
    params = list(extra)
    if filters is not None:
        if map_form:
            filters = {k: {v: True for v in values} for k, values in filters.items()}
        params.append(("filters", json.dumps(filters, separators=(",", ":"))))
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params)
    prefix = f"/v{version}" if version else ""
    return f"{prefix}/images/json" + (f"?{query}" if query else "")


def _versions(profile: Profile) -> list[str]:
    low, high = version_tuple(profile.api_min), version_tuple(profile.api_max)
    return [f"1.{m}" for m in range(max(low[1], 12), high[1] + 1)]


@dataclass(frozen=True)
class Vocabulary:
    """Values drawn from the daemon's own images, so filters hit and miss for real."""

    tags: list[str]
    repos: list[str]
    ids: list[str]
    label_keys: list[str]
    label_pairs: list[str]
    created: list[int]
    oldest: list[str]  # tags of images with no creation time or the earliest one: before/since edge cases

    @classmethod
    def of(cls, images: Iterable[Image]) -> Vocabulary:
        images = list(images)
        tags = sorted({t.familiar for i in images for t in i.tags})
        repos = sorted({t.familiar_name for i in images for t in (*i.tags, *i.digests)})
        pairs = sorted({f"{k}={v}" for i in images for k, v in (i.labels or {}).items()})
        keys = sorted({k for i in images for k in (i.labels or {})})
        created = sorted({(i.created_ns or 0) // 1_000_000_000 for i in images})
        ids = [i.id for i in images] or ["sha256:" + "0" * 64]
        by_age = sorted((i for i in images if i.tags), key=lambda i: (i.created_ns is not None, i.created_ns or 0))
        oldest = [by_age[0].tags[0].familiar] if by_age else []
        return cls(tags or ["example/none:1"], repos or ["example/none"], ids,
                   keys or ["none"], pairs or ["none=x"], created or [0], oldest or tags[:1] or ["example/none:1"])


def standard_probes(images: Sequence[Image], profile: Profile) -> list[Probe]:
    """Every filter, both JSON forms, boolean spellings, combinations, errors, every API version."""
    v = Vocabulary.of(images)
    tag, repo, image_id = v.tags[0], v.repos[0], v.ids[0]
    probes = [Probe("GET", "/_ping"), Probe("HEAD", "/_ping"), Probe("GET", "/images/json")]
    for spelling in ("1", "true", "True", "yes", "0", "false", "no", "none", ""):
        probes.append(Probe("GET", _target(None, extra=[("all", spelling)]), "boolean spelling"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"dangling": ["true"]}, ""), ({"dangling": ["false"]}, ""), ({"dangling": ["1"]}, ""),
        ({"dangling": ["maybe"]}, "bad value"), ({"dangling": ["true", "false"]}, "conflict"),
        ({"label": [v.label_keys[0]]}, ""), ({"label": [v.label_pairs[0]]}, ""),
        ({"label": v.label_pairs[:2]}, "AND"), ({"label": [v.label_keys[0] + "!=x"]}, "negation"),
        ({"label": ["no.such.label"]}, ""), ({"reference": [repo]}, ""), ({"reference": [tag]}, ""),
        ({"reference": ["*"]}, "glob"), ({"reference": ["*/*"]}, "glob"), ({"reference": ["*/*:*"]}, "glob"),
        ({"reference": v.repos[:2]}, "OR"), ({"reference": ["nosuch/image"]}, ""), ({"reference": ["["]}, "bad glob"),
        ({"before": [tag]}, ""), ({"since": [tag]}, ""), ({"before": [image_id]}, "by id"),
        ({"before": v.oldest}, "oldest image"), ({"since": v.oldest}, "oldest image"),
        ({"since": [image_id[7:19]]}, "by short id"), ({"before": ["nosuch:img"]}, "unknown image"),
        ({"before": ["UPPER"]}, "bad reference"), ({"until": [str(v.created[-1])]}, "unix"),
        ({"until": ["87600h"]}, "duration"), ({"until": ["2024-01-01T00:00:00Z"]}, "RFC 3339"),
        ({"until": ["foo"]}, "bad until"), ({"foo": ["bar"]}, "unknown filter"),
        ({"dangling": ["true"], "label": [v.label_keys[0]]}, "AND of keys"),
    ]
    if profile.is_containerd:
        cases.append(({"label!": [v.label_keys[0]]}, "label!"))
    if profile.before_since_and:
        cases.append(({"before": v.tags[:2]}, "several before"))
    for filters, note in cases:
        probes.append(Probe("GET", _target(filters), note or "filter"))
        probes.append(Probe("GET", _target(filters, map_form=True, extra=[("all", "1")]),
                            (note or "filter") + ", map form, all"))
    probes += [Probe("GET", "/images/json?filters=%7Bnot-json", "malformed filters"),
               Probe("GET", "/images/json?filters=null", "null filters"),
               Probe("GET", "/images/json?all=%zz", "bad escape")]
    probes += _listing_flag_probes(profile)
    versions = _versions(profile)
    below = f"1.{version_tuple(profile.api_min)[1] - 1}"
    above = f"1.{version_tuple(profile.api_max)[1] + 1}"
    for version in [*versions[:: max(1, len(versions) // 6)], versions[-1], below, above]:
        probes.append(Probe("GET", _target(None, version=version), "version"))
        probes.append(Probe("GET", _target(None, version=version, extra=[("all", "1"), ("shared-size", "1")]),
                            "version"))
        probes.append(Probe("GET", _target(None, version=version, extra=[("filter", repo)]), "legacy filter"))
    return probes


def _listing_flag_probes(profile: Profile) -> list[Probe]:
    """manifests=1 and identity=1 at the newest API version and at the versions where they start
    (a daemon without them ignores them), and /v1.23, where 20.10 and 28+ answer errors in text."""
    newest = profile.api_max
    probes = [Probe("GET", "/v1.23/images/json", "API 1.23"), Probe("GET", "/v1.23/_ping", "API 1.23")]
    for version in dict.fromkeys(v for v in (newest, "1.47", "1.53", "1.54") if profile.supports(v)):
        probes += [Probe("GET", _target(None, version=version, extra=[("manifests", "1")]), "manifests"),
                   Probe("GET", _target(None, version=version, extra=[("manifests", "1"), ("all", "1")]), "manifests"),
                   Probe("GET", _target(None, version=version, extra=[("manifests", "1"), ("identity", "1")]),
                         "manifests and identity"),
                   Probe("GET", _target(None, version=version, extra=[("identity", "1")]), "identity alone")]
    return probes


def _image_target(name: str, endpoint: str, version: str | None = None, platform: str | None = None,
                  extra: str = "") -> str:
    """/images/{name}/{endpoint}, with `platform` and any other query (`extra`: "manifests=1")."""
    prefix = f"/v{version}" if version else ""
    params = ([f"platform={quote(platform, safe='')}"] if platform is not None else []) + ([extra] if extra else [])
    return f"{prefix}/images/{quote(name, safe='/:@')}/{endpoint}" + (f"?{'&'.join(params)}" if params else "")


def _history_target(name: str, version: str | None = None, platform: str | None = None) -> str:
    return _image_target(name, "history", version, platform)


#: `platform` values for the history and inspect routes: matching, not matching, malformed, incomplete.
PLATFORMS = (
    ('{"os":"linux","architecture":"amd64"}', "matching platform"),
    ('{"os":"linux","architecture":"arm64"}', "other platform"),
    ('{"os":"linux","architecture":"arm64","variant":"v8"}', "other platform with variant"),
    ('{"os":"windows","architecture":"amd64"}', "other os"),
    ("{not-json", "malformed platform"), ('{"os":1}', "platform of the wrong type"), ("null", "null platform"),
    ('{"os":"linux"}', "platform without architecture"), ('{"variant":"v8"}', "optional fields only"),
    ("", "empty platform"),
)


def _platforms_listed(image: Image) -> list[str]:
    """The platforms (as `platform` values) of a multi-platform image's image manifests."""
    platforms = [json.dumps(dict(m.platform), separators=(",", ":")) for m in image.manifests if m.kind == "image"]
    return list(dict.fromkeys(platforms)) if len(platforms) > 1 else []


def history_probes(images: Sequence[Image], profile: Profile) -> list[Probe]:
    """Every image by tag, full id and short id; unknown and invalid names; the `platform`
    parameter where the release reads it (and one version below, where it is ignored), on a
    multi-platform image too, with every platform its index lists; versions at and beyond the
    profile's range."""
    probes = []
    for image in images:
        refs = [*image.tags, *image.digests]
        if refs:
            probes.append(Probe("GET", _history_target(refs[0].familiar), "history by reference"))
        probes.append(Probe("GET", _history_target(image.id), "history by id"))
        probes.append(Probe("GET", _history_target(image.id[7:19]), "history by short id"))
    for name, note in _BAD_NAMES:
        probes.append(Probe("GET", _history_target(name), note))
    v = Vocabulary.of(images)
    multi = [i for i in images if i.tags and _platforms_listed(i)]
    named = [i.tags[0].familiar for i in multi[:1]] + [t.familiar for i in images if i.manifests
                                                      for t in i.tags][:1] + v.tags[:1]
    newest, low = profile.api_max, version_tuple(profile.api_min)
    below_range = f"1.{low[1] - 1}"
    above_range = f"1.{version_tuple(newest)[1] + 1}"
    for version in (profile.api_min, newest, below_range, above_range):
        probes.append(Probe("GET", _history_target(v.tags[0], version), "history version"))
    if profile.history_platform_from is not None:
        ignored = f"1.{version_tuple(profile.history_platform_from)[1] - 1}"
        for name in dict.fromkeys(named):
            for platform, note in PLATFORMS:
                probes.append(Probe("GET", _history_target(name, newest, platform), note))
            probes.append(Probe("GET", _history_target(name, ignored, PLATFORMS[1][0]),
                                "platform below the version that reads it"))
        for image in multi:
            for platform in _platforms_listed(image):
                probes.append(Probe("GET", _history_target(image.tags[0].familiar, newest, platform),
                                    "a platform the index lists"))
    return probes


#: API versions inspect is asked at (where the profile serves them): the oldest, and each version
#: where the document changes: 1.43 (placeholders), 1.44 (VirtualSize, Created), 1.45 (Container),
#: 1.48 (Descriptor, manifests), 1.49 (platform), 1.50 (Config), 1.52 (legacy fields), 1.53 (Identity).
INSPECT_VERSIONS = ("1.24", "1.41", "1.43", "1.44", "1.45", "1.47", "1.48", "1.49", "1.50", "1.51", "1.52", "1.53")
_BAD_NAMES = (("nosuch/image:1", "unknown image"), ("UPPER", "bad reference"), ("bad::name", "bad reference"),
              ("sha256:abc", "short digest"), ("a" * 64, "unknown id"))


def inspect_probes(images: Sequence[Image], profile: Profile) -> list[Probe]:
    """Every image by id at each version of INSPECT_VERSIONS (and the profile's oldest and newest),
    by every name, full id and short id at the newest; unknown and invalid names; `manifests=1`
    where the release reads it; `platform` where it reads it (and one version below) on the
    multi-platform image, with every platform its index lists, and on a single-platform one."""
    newest = profile.api_max
    versions = dict.fromkeys(v for v in (profile.api_min, *INSPECT_VERSIONS, newest) if profile.supports(v))
    probes = [Probe("GET", _image_target(image.id, "json", version), "inspect by id")
              for version in versions for image in images]
    for image in images:
        for ref in (*image.tags, *image.digests):
            probes.append(Probe("GET", _image_target(ref.familiar, "json", newest), "inspect by name"))
        probes.append(Probe("GET", _image_target(image.id[7:19], "json", newest), "inspect by short id"))
    probes += [Probe("GET", _image_target(name, "json", newest), note) for name, note in _BAD_NAMES]
    multi = [i for i in images if i.tags and _platforms_listed(i)]
    named = [i.tags[0].familiar for i in multi[:1]] + [t.familiar for i in images if not _platforms_listed(i)
                                                      for t in i.tags][:1]
    if profile.inspect_manifests_from is not None:
        for version in dict.fromkeys((profile.inspect_manifests_from, newest)):
            probes += [Probe("GET", _image_target(name, "json", version, extra="manifests=1"), "inspect manifests")
                       for name in named]
    if profile.inspect_platform_from is not None:
        ignored = f"1.{version_tuple(profile.inspect_platform_from)[1] - 1}"
        for name in named:
            for platform, note in PLATFORMS:
                probes.append(Probe("GET", _image_target(name, "json", newest, platform), "inspect: " + note))
            probes.append(Probe("GET", _image_target(name, "json", ignored, PLATFORMS[1][0]),
                                "inspect: platform below the version that reads it"))
            probes.append(Probe("GET", _image_target(name, "json", newest, PLATFORMS[0][0], "manifests=1"),
                                "inspect: platform and manifests"))
        for image in multi:
            for platform in _platforms_listed(image):
                for version in dict.fromkeys((profile.inspect_platform_from, newest)):
                    probes.append(Probe("GET", _image_target(image.tags[0].familiar, "json", version, platform),
                                        "inspect: a platform the index lists"))
    return probes


#: API versions /system/df is asked at (where the profile serves them): the `type` parameter
#: (1.42), the placeholders' end (1.43), VirtualSize's (1.44), Containers counted (1.51), the
#: usage objects (1.52).
DF_VERSIONS = ("1.41", "1.42", "1.43", "1.44", "1.51", "1.52")
DF_QUERIES = ("", "?type=image", "?type=container", "?type=volume", "?type=build-cache",
              "?type=image&type=container", "?type=container&type=volume&type=build-cache", "?type=bogus",
              "?verbose=1", "?type=image&verbose=1", "?verbose=0")


def df_probes(profile: Profile) -> list[Probe]:
    """GET /system/df with every `type` value, combinations, an unknown one and `verbose`, at each
    version of DF_VERSIONS the profile serves and at its newest."""
    versions = [v for v in DF_VERSIONS if profile.supports(v)]
    probes = [Probe("GET", "/system/df", "df")]
    for version in dict.fromkeys([*versions, profile.api_max]):
        probes += [Probe("GET", f"/v{version}/system/df{query}", "df") for query in DF_QUERIES]
    return probes


#: The prunes `--include-prune` sends, in this order, to both sides: errors first, then dangling
#: only, then by label among all unused images, then every image no container uses. The labels are
#: those of the project's image set (its real-daemon harness), where each of the last four deletes
#: images; on other images they may delete none, and the comparison holds all the same.
PRUNE_SEQUENCE: tuple[tuple[dict[str, list[str]], str], ...] = (
    ({"bogus": ["x"]}, "unknown filter"), ({"dangling": ["maybe"]}, "bad dangling"),
    ({"until": ["notatime"]}, "bad until"), ({}, "dangling images"),
    ({"dangling": ["false"], "label": ["org.example.kind=built"]}, "unused images with a label"),
    ({"dangling": ["false"], "label!": ["org.example.kind=committed"]}, "unused images without a label"),
    ({"dangling": ["false"]}, "every unused image"),
)


def prune_probes(profile: Profile) -> list[Probe]:
    """Each prune of PRUNE_SEQUENCE, followed by what shows its effect: the listing and df."""
    probes = []
    api = profile.api_max
    for filters, note in PRUNE_SEQUENCE:
        text = json.dumps(filters, separators=(",", ":"))
        probes += [Probe("POST", f"/v{api}/images/prune?filters={quote(text, safe='')}", f"prune: {note}"),
                   Probe("GET", f"/v{api}/images/json?all=1", f"after prune: {note}"),
                   Probe("GET", f"/v{api}/system/df", f"after prune: {note}")]
    return probes


def random_probes(images: Sequence[Image], profile: Profile, count: int, seed: int) -> list[Probe]:
    """`count` generated requests, reproducible from `seed`."""
    rng = random.Random(seed)
    v = Vocabulary.of(images)
    versions = _versions(profile)
    probes = []
    for _ in range(count):
        filters: dict[str, list[str]] = {}
        for key in rng.sample(["dangling", "label", "reference", "before", "since", "until"], rng.randint(0, 3)):
            filters[key] = _random_values(rng, key, v, profile)
        if rng.random() < 0.05:  # one invalid key at a time: with several, Go names one at random
            filters = {k: vals for k, vals in filters.items() if k in profile.filter_keys}
            filters["nosuch"] = ["x"]
        extra: list[tuple[str, str]] = []
        if rng.random() < 0.5:
            extra.append(("all", rng.choice(["1", "true", "True", "0", "false", "no", "garbage", ""])))
        if rng.random() < 0.2:
            extra.append(("shared-size", rng.choice(["1", "0"])))
        if rng.random() < 0.1:
            extra.append(("filter", rng.choice(v.repos)))
        version = rng.choice(versions) if rng.random() < 0.5 else None
        probes.append(Probe("GET", _target(filters or None, version=version, map_form=rng.random() < 0.5, extra=extra),
                            "generated"))
    return probes


def _random_values(rng: random.Random, key: str, v: Vocabulary, profile: Profile) -> list[str]:
    if key == "dangling":
        return [rng.choice(["true", "false", "1", "0"])]
    if key == "label":
        choices = [*v.label_keys, *v.label_pairs, "no.such", v.label_keys[0] + "=nomatch"]
        if profile.is_containerd:
            choices.append(rng.choice(v.label_pairs).replace("=", "!=", 1))
        return rng.sample(choices, min(len(choices), rng.randint(1, 2)))
    if key == "reference":
        repo = rng.choice(v.repos)
        choices = [repo, rng.choice(v.tags), repo.rsplit("/", 1)[0] + "/*", "*", "*/*", repo + ":*", repo[:-1] + "?",
                   "nosuch", "[a-z]*/*"]
        return rng.sample(choices, rng.randint(1, 2))
    if key in ("before", "since"):
        image_id = rng.choice(v.ids)
        return [rng.choice([rng.choice(v.tags), image_id, image_id[7:19], "nosuch:tag"])]
    stamp = rng.choice(v.created) + rng.choice([-1, 0, 1])
    return [rng.choice([str(stamp), f"{stamp}.5", "87600h", "2024-01-01T00:00:00Z", "2023-11-14"])]


# --- running it ----------------------------------------------------------------------------------------

Send = Callable[[Probe], Answer]


def diff_all(probes: Iterable[Probe], daemon: Send, fake: Send, profile: Profile, report: CheckReport,
             progress: Callable[[str], None] = lambda _: None,
             seen: Callable[[Probe, Answer], None] = lambda probe, answer: None,
             known_ids: frozenset[str] = frozenset()) -> CheckReport:
    """Send each probe to both sides, in order, and add what differs to `report`; `seen` gets
    each daemon answer; `known_ids` are the snapshot's image and manifest ids."""
    probes = list(probes)
    for n, probe in enumerate(probes, 1):
        progress(f"request {n}/{len(probes)}")
        answer = daemon(probe)
        seen(probe, answer)
        diffs, reasons = compare(probe, answer, fake(probe), profile, known_ids)
        report.differences += diffs
        report.known += [(probe, reason) for reason in reasons]
        report.probes += 1
    return report


def images_deleted(before: Iterable[str], listings: Sequence[Answer]) -> list[int]:
    """How many of the images `before` each listing lacks that the previous one had: what each prune deleted."""
    present = set(before)
    counts = []
    for answer in listings:
        now = {str(item.get("Id")) for item in json.loads(answer.body)} if answer.status == 200 else present
        counts.append(len(present - now))
        present &= now
    return counts


def fake_profile_for(snapshot_profile: str, version: dict[str, Any]) -> Profile:
    """The profile row, with the engine's exact version strings from its /version."""
    profile = get_profile(snapshot_profile)
    return dataclasses.replace(profile, engine_version=str(version.get("Version", profile.engine_version)),
                               api_max=str(version.get("ApiVersion", profile.api_max)),
                               api_min=str(version.get("MinAPIVersion", profile.api_min)))


def run_check(docker_host: str, *, random_count: int = 0, random_seed: int = 0, profile: Profile | None = None,
              include_prune: bool = False, progress: Callable[[str], None] = lambda _: None) -> CheckReport:
    """Snapshot the daemon, start the fake on it, send every probe to both, and report.

    With `include_prune`, the prunes of PRUNE_SEQUENCE follow, on both sides in the same order:
    they DELETE images on the daemon (the caller has warned)."""
    from .._fake.fakedaemon import FakeDaemon
    from .._files.seed import Seed
    from .._http.unixhttp import request
    from .snapshot import take_snapshot

    snap = take_snapshot(docker_host, progress)
    assert snap.seed.profile is not None
    fake_profile = profile or fake_profile_for(snap.seed.profile, dict(snap.version))
    images = list(snap.seed.images)

    def sender(host: str) -> Send:
        def send(probe: Probe) -> Answer:
            try:
                status, headers, body = request(host, probe.method, probe.target, timeout=60)
            except http.client.RemoteDisconnected:
                return NO_ANSWER  # a daemon's handler that panics: Go's server closes the connection
            named = {k.title(): v for k, v in headers}  # "api-version" -> "Api-Version", as Go writes it
            return Answer(status, named, body)
        return send

    with FakeDaemon(seed=Seed(tuple(images), fake_profile.name), profile=fake_profile) as fake:
        probes = (standard_probes(images, fake_profile) + history_probes(images, fake_profile)
                  + inspect_probes(images, fake_profile) + df_probes(fake_profile)
                  + random_probes(images, fake_profile, random_count, random_seed))
        report = CheckReport(fake_profile.name, warning=snap.warning)
        diff_all(probes, sender(docker_host), sender(fake.docker_host), fake_profile, report, progress)
        if include_prune:
            listings: list[Answer] = []

            def keep_listing(probe: Probe, answer: Answer) -> None:
                if route_of(probe) == "/images/json":
                    listings.append(answer)
            known_ids = frozenset(x for i in images for x in (i.id, *(m.id for m in i.manifests)))
            diff_all(prune_probes(fake_profile), sender(docker_host), sender(fake.docker_host), fake_profile,
                     report, progress, keep_listing, known_ids)
            report.pruned = images_deleted((i.id for i in images), listings)
        return report
