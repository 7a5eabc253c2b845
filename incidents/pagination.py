"""Keyset (cursor) pages for the API's incident list and timelines.

A page starts where the previous one ended (`WHERE opened_at < last seen`, on an index), so the last page
costs what the first does and no request counts every row: the pages carry `next` and `previous` links
with an opaque `cursor`, and no `count`.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class IncidentPages(CursorPagination):
    """Newest first, as the list always was; ties on the opening time follow the id."""

    page_size = 50
    ordering = ("-opened_at", "-id")


class TimelinePages(CursorPagination):
    """Oldest first: the timeline reads in the order things happened."""

    page_size = 50
    ordering = ("at", "id")
