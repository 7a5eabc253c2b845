"""Nested objects in a request (a contact's windows and away periods): each one is validated whole.

DRF lets every field go missing in a partial update (PATCH), nested objects' fields included, since it asks
the root serializer whether the update is partial. A nested object replaces a whole list item, never part
of one: a PATCH that omits an item's field is a 400 naming it, not a KeyError in validate().
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class WholeObjectSerializer(serializers.Serializer[Any]):
    """A nested object validated as a root of its own, so that a partial update never makes it partial."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if self.parent is None:
            return super().run_validation(data)
        whole = type(self)(data=data, context=self.context)
        whole.is_valid(raise_exception=True)
        return whole.validated_data
