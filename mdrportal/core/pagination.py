"""Keyset (cursor) pages for the API's incident list and timelines.

A page starts where the previous one ended (`WHERE opened_at < last seen`, on an index), so the last page
costs what the first does and no request counts every row: the pages carry `next` and `previous` links
with an opaque `cursor`, and no `count`. The customer incident list pages the same way (keyset_page).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

Row = TypeVar("Row", bound=Model)


class IncidentPages(CursorPagination):
    """Newest first, as the list always was; ties on the opening time follow the id."""

    page_size = 50
    ordering = ("-opened_at", "-id")


class TimelinePages(CursorPagination):
    """Oldest first: the timeline reads in the order things happened."""

    page_size = 50
    ordering = ("at", "id")


class CustomerIncidentPages(IncidentPages):
    page_size = 20


class PartnerCustomerPages(CursorPagination):
    """A partner's customers by name."""

    page_size = 50
    ordering = ("name", "pk")


class PartnerTaskPages(CursorPagination):
    """A partner's tasks on the one key its list annotates: open tasks first, each side oldest first."""

    page_size = 20
    ordering = ("console_order",)


@dataclass(frozen=True)
class KeysetPage(Generic[Row]):
    """One page of a site list, with the links to the pages next to it (None at either end)."""

    rows: list[Row]
    next: str | None
    previous: str | None

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Row:
        return self.rows[index]


def keyset_page(pages: CursorPagination, rows: QuerySet[Row], request: HttpRequest) -> KeysetPage[Row]:
    """The page the request's `cursor` points at, for a site page: links relative, other parameters kept."""
    try:
        found = pages.paginate_queryset(rows, Request(request)) or []
    except NotFound as error:
        raise Http404("This page of the list does not exist: start again from the first page.") from error
    return KeysetPage(found, _relative(pages.get_next_link()), _relative(pages.get_previous_link()))


def _relative(link: str | None) -> str | None:
    # The paginator builds absolute addresses from the request's Host; the site links within itself.
    return None if link is None else "?" + urlsplit(link).query
