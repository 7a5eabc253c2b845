"""Reading and submitting Django admin pages as a browser would: the POST data of a page as rendered, inline
rows added or found, the errors shown, and a page fetched with its query count pinned."""

from __future__ import annotations

from typing import Any

from django import forms
from django.test import Client


# Building POST data from the rendered page, as a browser would submit it unchanged.
def _form_data(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def page_data(response: Any) -> dict[str, Any]:
    """The main form and every inline formset (with its management form) of an admin add/change page."""
    assert response.status_code == 200
    data = _form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_data(form))
    return data


def add_row(data: dict[str, Any], prefix: str, **fields: Any) -> None:
    """Append one more form to an inline formset in the POST data."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    for name, value in fields.items():
        if value is True:
            data[f"{prefix}-{index}-{name}"] = "on"
        elif isinstance(value, list):
            data[f"{prefix}-{index}-{name}"] = value
        elif value is not False:
            data[f"{prefix}-{index}-{name}"] = str(value)


def row_index(data: dict[str, Any], prefix: str, pk: int) -> int:
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    return next(i for i in range(total) if data.get(f"{prefix}-{i}-id") == str(pk))


def inline_formset(response: Any, prefix: str) -> Any:
    return next(i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix)


def page_errors(response: Any) -> str:
    """Every error the page shows, as one string."""
    parts = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        parts += [str(inline.formset.non_form_errors()), str(inline.formset.errors)]
    return " ".join(parts)


def get_counted(client: Client, url: str, django_assert_num_queries: Any, expected: int) -> Any:
    """The page at url, fetched a second time with exactly `expected` queries."""
    client.get(url)  # warm the per-process caches (content types, templates) out of the count
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response
