"""Refusing control characters in what people and integrations send.

NUL cannot be stored by PostgreSQL (a 500 at the first query) and the other C0/C1 control characters
have no place in a statement, a name or a title: they hide text, rewrite terminals and logs, and break
the exports evidence ends up in. Tab, line feed and carriage return stay allowed (multi-line statements).

Two gates: SafeInputMiddleware answers 400 to any page, admin or link request whose query string or form
fields carry one; the API's parsers refuse an API body that does, with the field's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict
from django.utils.datastructures import MultiValueDict
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import DataAndFiles, FormParser, JSONParser, MultiPartParser

if TYPE_CHECKING:
    # The stubs' name for the read-only QueryDict a parser returns (no such class at run time).
    from django.http.request import _ImmutableQueryDict

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MESSAGE = "Control characters (such as NUL) are not allowed in text."


def has_control_characters(value: str) -> bool:
    return CONTROL.search(value) is not None


def _strings(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in parsed JSON (keys too), with the top-level field it sits under."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            field = path or str(key)
            yield field, str(key)
            yield from _strings(value, field)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item, path)


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 with a field error when a string carries a control character."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:  # any JSON value, an object or not
        data = super().parse(stream, media_type, parser_context)
        for field, value in _strings(data):
            if has_control_characters(value):
                raise ValidationError({field or "non_field_errors": [MESSAGE]})
        return data


def _refuse_in_fields(data: QueryDict) -> None:
    for key, values in data.lists():
        if has_control_characters(key) or any(has_control_characters(v) for v in values):
            raise ValidationError({key: [MESSAGE]})


class SafeFormParser(FormParser):
    """DRF's form parser (an API write sent form-encoded), with the same refusal."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> _ImmutableQueryDict:
        data = super().parse(stream, media_type, parser_context)
        _refuse_in_fields(data)
        return data


class SafeMultiPartParser(MultiPartParser):
    """DRF's multipart parser, with the same refusal."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> DataAndFiles[_ImmutableQueryDict, MultiValueDict[Any, Any]]:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_in_fields(parsed.data)
        return parsed


class SafeInputMiddleware:
    """Answers 400 to a request whose query string or form fields carry a control character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        fields = [request.GET]
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            fields.append(request.POST)
        for query in fields:
            for key, values in query.lists():
                if has_control_characters(key) or any(has_control_characters(v) for v in values):
                    return HttpResponseBadRequest(
                        f"{key}: {MESSAGE}", content_type="text/plain; charset=utf-8"
                    )
        return self.get_response(request)
