"""The differential check: the same requests to a real daemon and to the fake seeded from its
snapshot; every difference reported in words, apart from a short list of known ones.

Probe generation and comparison are pure; `run_check` does the I/O.
"""
from __future__ import annotations

import dataclasses
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

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def identical(self) -> int:
        """Requests whose answers agree under the check's rules, with no difference excused."""
        return self.probes - len({id(d.probe) for d in self.differences} | {id(p) for p, _ in self.known})

    def render(self) -> str:
        share = f"{100 * self.identical / self.probes:.1f} %" if self.probes else "-"
        lines = [f"profile {self.profile}: {self.probes} requests, {len(self.differences)} differences, "
                 f"{len(self.known)} known differences; {self.identical} of {self.probes} answers identical ({share})"]
        lines += [d.render() for d in self.differences]
        reasons: dict[str, int] = {}
        for _, reason in self.known:
            reasons[reason] = reasons.get(reason, 0) + 1
        lines += [f"known ({count} requests): {reason}" for reason, count in reasons.items()]
        if self.warning:
            lines.append(f"warning: {self.warning}")
        return "\n".join(lines)


# --- known differences: where the daemon's answer depends on something no API exposes -------------

def known_difference(probe: Probe, profile: Profile) -> str | None:
    """A reason when this probe's body cannot be compared exactly, else None."""
    if profile.is_containerd and "until" in _filters_of(probe):
        return "until on the containerd store compares the record time, which no API exposes"
    return None


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


def _normalise_listing(items: list[Any], profile: Profile) -> list[Any]:
    out = []
    for item in items:
        item = dict(item)
        if profile.is_containerd and isinstance(item.get("SharedSize"), int) and item["SharedSize"] >= 0:
            item["SharedSize"] = "computed"  # snapshot usage on the containerd store is not exposed
        out.append(item)
    return sorted(out, key=lambda i: (-i.get("Created", 0), str(i.get("Id"))))


def compare(probe: Probe, daemon: Answer, fake: Answer, profile: Profile) -> tuple[list[Difference], str | None]:
    """Differences between two answers to one probe, and the known reason that excused the body."""
    diffs = []
    if daemon.status != fake.status:
        diffs.append(Difference(probe, "status", str(daemon.status), str(fake.status)))
    for name in READ_HEADERS:
        if daemon.headers.get(name) != fake.headers.get(name):
            diffs.append(Difference(probe, f"header {name}", repr(daemon.headers.get(name)),
                                    repr(fake.headers.get(name))))
    reason = known_difference(probe, profile)
    bodies = _compare_bodies(probe, daemon, fake, profile)
    if reason and daemon.status == fake.status == 200:
        return diffs, reason if bodies else None  # excused only where the bodies do differ
    return diffs + bodies, None


def _compare_bodies(probe: Probe, daemon: Answer, fake: Answer, profile: Profile) -> list[Difference]:
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
    if isinstance(left, list) and isinstance(right, list):
        return _compare_listings(probe, _normalise_listing(left, profile), _normalise_listing(right, profile))
    if left != right:
        return [Difference(probe, "body", json.dumps(left)[:300], json.dumps(right)[:300])]
    return []


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
             progress: Callable[[str], None] = lambda _: None) -> CheckReport:
    probes = list(probes)
    for n, probe in enumerate(probes, 1):
        progress(f"request {n}/{len(probes)}")
        diffs, reason = compare(probe, daemon(probe), fake(probe), profile)
        report.differences += diffs
        if reason:
            report.known.append((probe, reason))
        report.probes += 1
    return report


def fake_profile_for(snapshot_profile: str, version: dict[str, Any]) -> Profile:
    """The profile row, with the engine's exact version strings from its /version."""
    profile = get_profile(snapshot_profile)
    return dataclasses.replace(profile, engine_version=str(version.get("Version", profile.engine_version)),
                               api_max=str(version.get("ApiVersion", profile.api_max)),
                               api_min=str(version.get("MinAPIVersion", profile.api_min)))


def run_check(docker_host: str, *, random_count: int = 0, random_seed: int = 0, profile: Profile | None = None,
              progress: Callable[[str], None] = lambda _: None) -> CheckReport:
    """Snapshot the daemon, start the fake on it, send every probe to both, and report."""
    from .._core.model import ImageStore
    from .._fake.backend import FakeBackend
    from .._http.server import Server
    from .._http.unixhttp import request
    from .snapshot import take_snapshot

    snap = take_snapshot(docker_host, progress)
    assert snap.seed.profile is not None
    fake_profile = profile or fake_profile_for(snap.seed.profile, dict(snap.version))
    images = list(snap.seed.images)

    def sender(host: str) -> Send:
        def send(probe: Probe) -> Answer:
            status, headers, body = request(host, probe.method, probe.target, timeout=60)
            named = {k.title(): v for k, v in headers}  # "api-version" -> "Api-Version", as Go writes it
            return Answer(status, named, body)
        return send

    with Server(FakeBackend(ImageStore(images), fake_profile)) as server:
        probes = standard_probes(images, fake_profile) + random_probes(images, fake_profile, random_count, random_seed)
        report = CheckReport(fake_profile.name, warning=snap.warning)
        return diff_all(probes, sender(docker_host), sender(server.docker_host), fake_profile, report, progress)
