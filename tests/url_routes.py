"""Every route of the project's URL conf, as the resolver writes it ("incidents/<int:pk>/"): what the access
walks of the pages and of the API go through, so that a new URL is walked without being listed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def all_routes() -> Iterator[str]:
    return _walk(get_resolver().url_patterns)
