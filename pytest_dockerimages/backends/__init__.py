"""Backends behind the server core: fake, replay, record. Each is `handle(Request) -> Response`."""
