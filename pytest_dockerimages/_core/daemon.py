"""The fake daemon's request handling, as pure functions: a Request and a state in, a Response out.

Routing, the version middleware, /_ping, /version, GET /images/json and image inspect, with the
headers, status codes and body formats each profile's daemon uses.
"""
from __future__ import annotations

import platform
import re
from typing import Any
from urllib.parse import unquote

from .errors import DaemonError
from .history import image_history
from .image_inspect import image_inspect
from .model import ImageStore
from .pathclean import redirect_to_clean
from .profiles import Profile, version_tuple
from .query import parse_form, parse_list_query
from .render import encode, listing_body
from .routes import served
from .system_df import df_containers, disk_usage, drops_connection
from .wire import Request, Response

_VERSIONED = re.compile(r"^/v([0-9.]+)(/.*)$")
_INSPECT = re.compile(r"^/images/(.+)/json$")
_HISTORY = re.compile(r"^/images/(.+)/history$")
_JSON = "application/json"
#: A daemon reports the kernel of the machine it runs on; so does the fake (read once, at import).
HOST_KERNEL = platform.release()


def split_version(path: str) -> tuple[str | None, str]:
    """`/v1.41/images/json` -> ("1.41", "/images/json"); unversioned -> (None, path)."""
    match = _VERSIONED.match(path)
    if match:
        return match.group(1), match.group(2)
    return None, path


def base_headers(profile: Profile) -> list[tuple[str, str]]:
    return [("Api-Version", profile.api_max), ("Ostype", "linux"),
            ("Server", f"Docker/{profile.engine_version} (linux)")]


def _sorted(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(headers, key=lambda h: h[0])  # Go writes header keys sorted


def page_not_found() -> Response:
    return Response(404, [("Content-Type", _JSON)], encode({"message": "page not found"}))


def not_modelled(method: str, route: str) -> DaemonError:
    """A route the profile's release serves but the fake does not: 501, so it is not mistaken for a 404."""
    return DaemonError(501, f"pytest-dockerimages does not model {method} {route}: its fake daemon "
                            "answers the image endpoints only; use a real daemon for this one")


def error_response(profile: Profile, version: str | None, err: DaemonError, *, experimental: bool = True) -> Response:
    headers = base_headers(profile)
    if experimental:
        headers.append(("Docker-Experimental", "false"))
    through = profile.plain_text_errors_through
    if through and version is not None and version_tuple(version) <= version_tuple(through):
        headers += [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
        return Response(err.status, _sorted(headers), (err.message + "\n").encode())
    headers.append(("Content-Type", _JSON))
    return Response(err.status, _sorted(headers), encode({"message": err.message}))


def version_error(profile: Profile, version: str) -> DaemonError | None:
    if version_tuple(version) < version_tuple(profile.api_min):
        return DaemonError(400, f"client version {version} is too old. Minimum supported API version is "
                                f"{profile.api_min}, please upgrade your client to a newer version")
    if version_tuple(version) > version_tuple(profile.api_max):
        return DaemonError(400, f"client version {version} is too new. Maximum supported API version is "
                                f"{profile.api_max}")
    return None


def version_document(profile: Profile) -> dict[str, Any]:
    details = {"ApiVersion": profile.api_max, "Arch": "amd64", "BuildTime": profile.build_time,
               "Experimental": "false", "GitCommit": profile.git_commit, "GoVersion": profile.go_version,
               "KernelVersion": HOST_KERNEL, "MinAPIVersion": profile.api_min, "Os": "linux"}
    if profile.version_module is not None:
        details["Module"], details["ModuleVersion"] = profile.version_module
        details = dict(sorted(details.items()))  # Go writes a map's keys sorted
    components = [{"Name": "Engine", "Version": profile.engine_version, "Details": details}]
    components += [{"Name": name, "Version": version, "Details": {"GitCommit": commit}}
                   for name, version, commit in profile.components]
    values = {"Platform": {"Name": ""}, "Components": components, "Version": profile.engine_version,
              "ApiVersion": profile.api_max, "MinAPIVersion": profile.api_min, "GitCommit": profile.git_commit,
              "GoVersion": profile.go_version, "Os": "linux", "Arch": "amd64", "KernelVersion": HOST_KERNEL,
              "BuildTime": details["BuildTime"]}
    return {key: values[key] for key in profile.version_key_order}


# Go's net/http buffers this much of a handler's output; a longer body goes out chunked.
GO_CHUNKING_THRESHOLD = 2048


def info_document(store: ImageStore, profile: Profile) -> dict[str, Any]:
    """The part of /info that says what the daemon holds and which image store serves it."""
    containerd = profile.is_containerd
    containers = len(df_containers(store))  # made with `docker create` and never started: all stopped
    return {"ID": "pytest-dockerimages", "Containers": containers, "ContainersRunning": 0, "ContainersPaused": 0,
            "ContainersStopped": containers, "Images": len(store.images),
            "Driver": "overlayfs" if containerd else "vfs",
            "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]] if containerd else None,
            "OSType": "linux", "Architecture": "x86_64", "OperatingSystem": "pytest-dockerimages fake daemon",
            "KernelVersion": HOST_KERNEL, "ServerVersion": profile.engine_version, "Name": "pytest-dockerimages"}


def _ok_json(profile: Profile, document: Any) -> Response:
    return _ok_body(profile, encode(document))


def _ok_body(profile: Profile, body: bytes) -> Response:
    headers = base_headers(profile) + [("Docker-Experimental", "false"), ("Content-Type", _JSON)]
    return Response(200, _sorted(headers), body, chunked=len(body) > GO_CHUNKING_THRESHOLD)


def _ping(profile: Profile, method: str) -> Response:
    headers = base_headers(profile) + [
        ("Docker-Experimental", "false"), ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"), ("Content-Type", "text/plain; charset=utf-8")]
    if profile.ping_builder_swarm:
        headers += [("Builder-Version", "2"), ("Swarm", "inactive")]
    if method == "HEAD":
        headers.append(("Content-Length", "0"))
        return Response(200, _sorted(headers), b"")
    return Response(200, _sorted(headers), b"OK")


def respond(store: ImageStore, profile: Profile, request: Request, now_ns: int) -> Response:
    """Answer one request as the profile's daemon would."""
    redirect = redirect_to_clean(request)
    if redirect is not None:
        return redirect
    version, route = split_version(request.path)
    method = request.method
    inspect = _INSPECT.match(route) if method == "GET" else None
    history = _HISTORY.match(route) if method == "GET" else None
    known = (route == "/_ping" and method in ("GET", "HEAD")) or (
        route in ("/version", "/info", "/images/json", "/system/df") and method == "GET") or inspect is not None or (
        history is not None)
    if not known and not served(profile.router_release, method, request.path):
        return page_not_found()
    api_version = version if version is not None else profile.api_max
    error = version_error(profile, api_version)
    if error is not None:
        return error_response(profile, version, error, experimental=False)
    if not known:
        return error_response(profile, version, not_modelled(method, route))
    try:
        if route == "/_ping":
            return _ping(profile, method)
        if route == "/version":
            return _ok_json(profile, version_document(profile))
        if route == "/info":
            return _ok_json(profile, info_document(store, profile))
        if route == "/images/json":
            query = parse_list_query(request.raw_query, api_version, profile)
            return _ok_body(profile, listing_body(store, profile, api_version, query, now_ns))
        if route == "/system/df":
            if drops_connection(profile, api_version, request.raw_query):
                return Response(500, drop_connection=True)
            return _ok_json(profile, disk_usage(store, profile, api_version, request.raw_query))
        if history is not None:
            platform = parse_form(request.raw_query).get("platform")
            return _ok_json(profile, image_history(store, unquote(history.group(1)), profile, api_version, platform))
        assert inspect is not None
        return _ok_json(profile, image_inspect(store, unquote(inspect.group(1)), profile, api_version,
                                               request.raw_query))
    except DaemonError as err:
        return error_response(profile, version, err)
