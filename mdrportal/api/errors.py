"""How the API reports a service's refusal: Django ValidationErrors become DRF 400 field errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError as DjangoValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings

# Refusals that are about the object's state, not the request: the incident is resolved or closed.
CONFLICT_CODES = frozenset({"incident_closed"})


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the object's current state."
    default_code = "conflict"


def field_errors(
    error: DjangoValidationError, rename: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """The error as {api field: [messages]}; errors not tied to a field go under non_field_errors."""
    rename = {NON_FIELD_ERRORS: api_settings.NON_FIELD_ERRORS_KEY, **(rename or {})}
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: list(error.messages)}
    detail: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        detail.setdefault(rename.get(field, field), []).extend(messages)
    return detail


@contextmanager
def service_errors(rename: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run service calls; a ValidationError they raise is answered as a 400 with field errors, or a 409 when
    the object's state refuses it (a decision on a closed incident)."""
    try:
        yield
    except DjangoValidationError as error:
        if getattr(error, "code", None) in CONFLICT_CODES:
            raise Conflict(" ".join(error.messages)) from error
        raise serializers.ValidationError(field_errors(error, rename)) from error
