"""FakeDaemon: state changes, docker-rmi semantics, fault injection, request log, consistency, cleanup."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from pytest_dockerimages._core.defaults import default_images
from pytest_dockerimages._core.deletion import delete_image
from pytest_dockerimages._core.errors import DaemonError
from pytest_dockerimages._core.model import Image, ImageStore
from pytest_dockerimages._core.profiles import DEFAULT_PROFILE, get_profile
from pytest_dockerimages._fake.fakedaemon import FakeDaemon, LoggedRequest, NoSuchImage
from pytest_dockerimages._files.seed import dump_seed
from pytest_dockerimages._http.unixhttp import request

ID = "sha256:" + "1" * 64
PARENT = "sha256:" + "2" * 64
CHILD = "sha256:" + "3" * 64


def get_json(daemon: FakeDaemon, path: str) -> Any:
    status, _, body = request(daemon.docker_host, "GET", path)
    assert status == 200, body
    return json.loads(body)


def tags_of(daemon: FakeDaemon) -> dict[str, list[str]]:
    return {i.id: sorted(t.familiar for t in i.tags) for i in daemon.images}


def listed(daemon: FakeDaemon, query: str = "") -> list[dict[str, Any]]:
    return get_json(daemon, "/v1.47/images/json" + query)


def filters_query(filters: Any) -> str:
    return "?filters=" + urllib.parse.quote(json.dumps(filters))


@pytest.fixture
def daemon() -> Any:
    with FakeDaemon(images=default_images()) as d:
        yield d


# --------------------------------------------------------------------------- construction


def test_defaults_empty_store_and_default_profile() -> None:
    d = FakeDaemon()
    assert d.images == [] and d.profile.name == DEFAULT_PROFILE and not d.running


def test_images_given_as_dicts_and_images(tmp_path: Path) -> None:
    d = FakeDaemon(images=[{"tags": ["a:1"], "id": ID}, Image(tags=["b:1"])])
    assert [t.familiar for i in d.images for t in i.tags] == ["a:1", "b:1"]
    with pytest.raises(TypeError, match="expected an Image"):
        FakeDaemon(images=[42])  # type: ignore[list-item]


def test_seed_then_images_and_seed_profile(tmp_path: Path) -> None:
    seed = dump_seed([Image(tags=["from-seed:1"], id=ID)], tmp_path / "seed.yaml", profile="docker-20.10")
    d = FakeDaemon(images=[{"tags": ["extra:1"]}], seed=seed)
    assert [i.tags[0].familiar for i in d.images] == ["from-seed:1", "extra:1"]
    assert d.profile.name == "docker-20.10"
    assert FakeDaemon(seed=seed, profile="docker-26.1").profile.name == "docker-26.1"


def test_load_seed_keeps_an_explicit_profile(tmp_path: Path) -> None:
    seed = dump_seed([Image(tags=["s:1"], id=ID)], tmp_path / "s.json", profile="docker-20.10")
    explicit = FakeDaemon(images=[{"tags": ["x:1"]}], profile="docker-26.1")
    explicit.load_seed(seed)
    assert explicit.profile.name == "docker-26.1" and [i.id for i in explicit.images] == [ID]
    implicit = FakeDaemon()
    implicit.load_seed(seed)
    assert implicit.profile.name == "docker-20.10"


def test_reset_replaces_everything(daemon: FakeDaemon) -> None:
    daemon.fail_next(5)
    listed_before = len(daemon.requests)
    daemon.reset(images=[{"tags": ["only:1"]}], profile="docker-26.1")
    assert daemon.pending_faults == 0 and daemon.requests == [] and listed_before == 0
    body = get_json(daemon, "/images/json")
    assert [e["RepoTags"] for e in body] == [["only:1"]]
    assert daemon.profile.name == "docker-26.1"
    daemon.reset()
    assert get_json(daemon, "/images/json") == []


# --------------------------------------------------------------------------- state changes


def test_add_is_visible_to_the_next_request(daemon: FakeDaemon) -> None:
    before = len(listed(daemon))
    daemon.add({"tags": ["new:1"]}, Image(tags=["new:2"]))
    after = listed(daemon)
    assert len(after) == before + 2
    assert {"new:1", "new:2"} <= {t for e in after for t in e["RepoTags"]}


def test_tag_moves_the_tag_like_docker_tag(daemon: FakeDaemon) -> None:
    tool = next(i for i in daemon.images if i.tags and i.tags[0].familiar == "tool:latest")
    base = daemon.tag("tool", "example/base:latest")
    assert base.id == tool.id
    tags = tags_of(daemon)
    owners = [image_id for image_id, names in tags.items() if "example/base:latest" in names]
    assert owners == [tool.id]  # moved: exactly one image carries it
    assert "example/base:1.0" in next(n for i, n in tags.items() if i != tool.id and "example/base:1.0" in n)
    assert listed(daemon, filters_query({"reference": ["example/base:latest"]}))[0]["Id"] == tool.id


def test_tag_errors(daemon: FakeDaemon) -> None:
    with pytest.raises(NoSuchImage, match="No such image: nope:latest"):
        daemon.tag("nope", "x:1")
    with pytest.raises(ValueError, match="digest"):
        daemon.tag("tool", "x@sha256:" + "a" * 64)
    with pytest.raises(LookupError):
        daemon.remove("missing:tag")


def test_remove_reference_untags_and_deletes_on_last_reference() -> None:
    d = FakeDaemon(images=[{"id": ID, "tags": ["a:1", "a:2"], "digests": ["a@sha256:" + "d" * 64]}])
    assert d.remove("a:1") == [{"Untagged": "a:1"}]
    assert len(d.images) == 1
    # last tag of repo a: its digest goes too, then the image
    assert d.remove("a:2") == [{"Untagged": "a:2"}, {"Untagged": "a@sha256:" + "d" * 64}, {"Deleted": ID}]
    assert d.images == []


def test_remove_by_id_and_short_id() -> None:
    d = FakeDaemon(images=[{"id": ID, "tags": ["a:1", "b:1"]}, {"id": PARENT, "tags": ["c:1"]}])
    records = d.remove(ID[7:19])
    assert records[-1] == {"Deleted": ID} and {"Untagged": "a:1"} in records and {"Untagged": "b:1"} in records
    d.remove(PARENT)
    assert d.images == []


def test_remove_keeps_an_untagged_parent_with_children() -> None:
    d = FakeDaemon(images=[{"id": PARENT, "tags": ["base:1"]}, {"id": CHILD, "parent": PARENT, "tags": ["app:1"]}])
    assert d.remove("base:1") == [{"Untagged": "base:1"}]
    assert {i.id for i in d.images} == {PARENT, CHILD}
    with pytest.raises(DaemonError, match="dependent child images") as info:
        d.remove(PARENT)
    assert info.value.status == 409


def test_clear(daemon: FakeDaemon) -> None:
    daemon.clear()
    assert daemon.images == [] and listed(daemon) == []


# --------------------------------------------------------------------------- DELETE /images/{name}


def delete(daemon: FakeDaemon, name: str, query: str = "") -> tuple[int, Any]:
    status, headers, body = request(daemon.docker_host, "DELETE", "/v1.47/images/" + name + query)
    assert dict(headers)["Content-Type"] == "application/json"
    return status, json.loads(body)


def test_http_delete_untag_delete_and_404() -> None:
    with FakeDaemon(images=[{"id": ID, "tags": ["one:1"]}]) as d:
        assert delete(d, "one:1") == (200, [{"Untagged": "one:1"}, {"Deleted": ID}])
        assert delete(d, "one:1") == (404, {"message": "No such image: one:1"})
        assert delete(d, "one") == (404, {"message": "No such image: one:latest"})


def test_http_delete_conflicts_and_force() -> None:
    images = [{"id": PARENT}, {"id": ID, "parent": PARENT, "tags": ["a:1", "b:1"], "containers": ["f" * 64]}]
    with FakeDaemon(images=images) as d:
        status, body = delete(d, PARENT[7:])
        assert status == 409 and "(cannot be forced) - image has dependent child images" in body["message"]
        status, body = delete(d, ID[7:19])
        assert status == 409 and "referenced in multiple repositories" in body["message"]
        d.remove("b:1")
        status, body = delete(d, "a:1")
        assert status == 409 and body["message"].startswith('conflict: unable to remove repository reference "a:1"')
        status, body = delete(d, "a:1", "?force=1")
        # the untagged image goes, and its untagged parent is pruned with it
        assert status == 200 and body == [{"Untagged": "a:1"}, {"Deleted": ID}, {"Deleted": PARENT}]
        assert d.images == []


def test_http_delete_noprune_keeps_the_parent() -> None:
    with FakeDaemon(images=[{"id": PARENT}, {"id": ID, "parent": PARENT, "tags": ["a:1"]}]) as d:
        assert delete(d, "a:1", "?noprune=1") == (200, [{"Untagged": "a:1"}, {"Deleted": ID}])
        assert [i.id for i in d.images] == [PARENT]


def test_delete_image_is_pure() -> None:
    store = ImageStore([Image(id=ID, tags=["a:1"])])
    new, records = delete_image(store, "a:1", get_profile(None))
    assert len(store) == 1 and len(new) == 0 and records[-1] == {"Deleted": ID}


def test_other_methods_still_go_to_the_daemon(daemon: FakeDaemon) -> None:
    status, _, body = request(daemon.docker_host, "POST", "/v1.47/images/tool/tag")
    assert status == 501 and json.loads(body)["message"].startswith("pytest-dockerimages does not model POST")


# --------------------------------------------------------------------------- faults


def test_fail_next_counts_and_uses_the_daemon_error_body(daemon: FakeDaemon) -> None:
    daemon.fail_next(2, status=503, message="maintenance", path="/images/json")
    assert request(daemon.docker_host, "GET", "/_ping")[0] == 200  # other paths untouched
    for _ in range(2):
        status, headers, body = request(daemon.docker_host, "GET", "/v1.47/images/json")
        assert status == 503 and json.loads(body) == {"message": "maintenance"}
        assert dict(headers)["Api-Version"] == daemon.profile.api_max
    assert request(daemon.docker_host, "GET", "/v1.47/images/json")[0] == 200
    assert daemon.pending_faults == 0


def test_fail_next_without_path_hits_any_request_and_globs_work(daemon: FakeDaemon) -> None:
    daemon.fail_next()
    assert request(daemon.docker_host, "GET", "/_ping")[0] == 500
    daemon.fail_next(status=404, message="gone", path="/images/*/json")
    assert request(daemon.docker_host, "GET", "/images/json")[0] == 200
    assert request(daemon.docker_host, "GET", "/v1.45/images/tool/json")[0] == 404
    daemon.fail_next(status=409, message="busy", path="/images/*", method="delete")
    assert request(daemon.docker_host, "GET", "/images/tool/json")[0] == 200
    assert request(daemon.docker_host, "DELETE", "/images/tool")[0] == 409
    assert request(daemon.docker_host, "DELETE", "/images/tool")[0] == 200


def test_fault_argument_checks(daemon: FakeDaemon) -> None:
    with pytest.raises(ValueError):
        daemon.fail_next(0)
    with pytest.raises(ValueError):
        daemon.fail_next(status=200)
    with pytest.raises(ValueError):
        daemon.delay_next(-1)


def test_delay_next(daemon: FakeDaemon) -> None:
    daemon.delay_next(0.3, path="/images/json")
    start = time.monotonic()
    assert request(daemon.docker_host, "GET", "/_ping")[0] == 200
    assert time.monotonic() - start < 0.25
    start = time.monotonic()
    assert request(daemon.docker_host, "GET", "/images/json")[0] == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    request(daemon.docker_host, "GET", "/images/json")
    assert time.monotonic() - start < 0.25


def test_stop_ends_a_pending_delay() -> None:
    d = FakeDaemon().start()
    d.delay_next(30)
    outcome: list[Any] = []

    def client() -> None:
        try:
            outcome.append(request(d.docker_host, "GET", "/_ping", timeout=20)[0])
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.2)
    start = time.monotonic()
    d.stop()
    thread.join(10)
    assert time.monotonic() - start < 5 and outcome


def test_drop_next_closes_without_answer(daemon: FakeDaemon) -> None:
    daemon.drop_next(path="/images/json")
    with pytest.raises((ConnectionError, OSError)):
        request(daemon.docker_host, "GET", "/images/json")
    assert request(daemon.docker_host, "GET", "/images/json")[0] == 200
    assert [r.status for r in daemon.requests] == [0, 200]


# --------------------------------------------------------------------------- request log


def test_request_log_canonical_filters_from_both_json_forms(daemon: FakeDaemon) -> None:
    map_form = {"dangling": {"true": True}, "label": {"b": True, "a=1": True}}
    list_form = {"label": ["a=1", "b"], "dangling": ["true"]}
    listed(daemon, filters_query(map_form) + "&all=1")
    listed(daemon, filters_query(list_form))
    get_json(daemon, "/images/json")
    first, second, third = daemon.requests
    assert first.filters == second.filters == {"dangling": ["true"], "label": ["a=1", "b"]}
    assert first.query["all"] == ["1"] and "all" not in second.query
    assert (first.method, first.path, first.api_version, first.status) == ("GET", "/images/json", "1.47", 200)
    assert third.api_version is None and third.filters == {} and third.query == {}
    assert isinstance(first, LoggedRequest)
    with pytest.raises(AttributeError):
        first.path = "/x"  # type: ignore[misc]


def test_request_log_bad_filters_and_repeated_values(daemon: FakeDaemon) -> None:
    status, _, _ = request(daemon.docker_host, "GET", "/v1.47/images/json?filters=%7Bnot-json&x=1&x=2")
    assert status in (400, 500)
    entry = daemon.requests[-1]
    assert entry.filters == {} and entry.query["x"] == ["1", "2"] and entry.status == status
    daemon.clear_requests()
    assert daemon.requests == []


def test_request_log_is_thread_safe(daemon: FakeDaemon) -> None:
    def worker() -> None:
        for _ in range(20):
            request(daemon.docker_host, "GET", "/_ping")

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(daemon.requests) == 100


# --------------------------------------------------------------------------- consistency


def test_every_response_sees_one_consistent_state(daemon: FakeDaemon) -> None:
    """A mutator swaps whole states and moves a tag; no response may show a mix."""
    state_a = [{"id": ID, "tags": ["moving:1", "a:1"]}, {"id": PARENT, "tags": ["b:1"]}]
    state_b = [{"id": CHILD, "tags": ["c:1"]}, {"id": ID, "tags": ["a:1"]}, {"id": PARENT, "tags": ["moving:1"]},
               {"tags": ["d:1"]}]
    done = threading.Event()
    swaps = 0

    def mutator() -> None:
        nonlocal swaps
        while not done.is_set():
            daemon.reset(images=state_a)
            daemon.tag("b:1", "moving:1")  # one atomic change: moving:1 jumps from ID to PARENT
            daemon.reset(images=state_b)
            swaps += 1

    thread = threading.Thread(target=mutator)
    thread.start()
    seen: set[tuple[tuple[str, ...], ...]] = set()
    try:
        for _ in range(150):
            body = listed(daemon)
            view = tuple(sorted(tuple(sorted(e["RepoTags"])) for e in body))
            seen.add(view)
            owners = [e for e in body if "moving:1" in e["RepoTags"]]
            assert len(owners) == 1, body
    finally:
        done.set()
        thread.join()
    allowed = {
        (("a:1", "moving:1"), ("b:1",)),
        (("a:1",), ("b:1", "moving:1")),
        (("a:1",), ("c:1",), ("d:1",), ("moving:1",)),
    }
    assert seen <= allowed and swaps > 0


# --------------------------------------------------------------------------- lifecycle and errors


def test_no_thread_socket_or_port_left_after_stop() -> None:
    before = set(threading.enumerate())
    d = FakeDaemon(images=default_images()).start()
    path = d.docker_host[len("unix://"):]
    for _ in range(3):
        request(d.docker_host, "GET", "/images/json")
    d.stop()
    d.stop()  # idempotent
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    assert set(threading.enumerate()) == before

    tcp = FakeDaemon(transport="tcp").start()
    assert tcp.docker_host.startswith("tcp://127.0.0.1:")
    port = int(tcp.docker_host.rsplit(":", 1)[1])
    assert request(tcp.docker_host, "GET", "/_ping")[0] == 200
    tcp.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert set(threading.enumerate()) == before


def test_unix_path_given(tmp_path: Path) -> None:
    path = tmp_path / "d.sock"
    with FakeDaemon(unix_path=path) as d:
        assert d.docker_host == f"unix://{path}" and path.exists()
    assert not path.exists()


def test_server_thread_errors_surface_via_check_errors() -> None:
    broken = {"on": False}

    def clock() -> int:
        if broken["on"]:
            raise RuntimeError("clock exploded")
        return time.time_ns()

    with FakeDaemon(images=[{"tags": ["a:1"]}], clock=clock) as d:
        d.check_errors()
        broken["on"] = True
        status, _, body = request(d.docker_host, "GET", "/images/json")
        assert status == 500 and b"clock exploded" in body
        with pytest.raises(RuntimeError, match="clock exploded"):
            d.check_errors()
        broken["on"] = False
        d.reset()
        d.check_errors()  # reset clears recorded errors


def test_clock_drives_until_filter() -> None:
    now = 1_700_000_000 * 10**9
    images = [{"tags": ["old:1"], "created": "2020-01-01T00:00:00Z"}, {"tags": ["new:1"], "created": now // 10**9 - 10}]
    with FakeDaemon(images=images, profile="docker-26.1", clock=lambda: now) as d:
        body = get_json(d, "/v1.45/images/json" + filters_query({"until": ["1h"]}))
        assert [e["RepoTags"] for e in body] == [["old:1"]]
