"""The user admin: an MDR lead manages logins but never makes a superuser or grants more than it holds."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from tests.admin_pages import page_data, page_errors
from tests.factories import make_analyst, make_lead, make_superuser

pytestmark = pytest.mark.django_db


def change_url(user: Any) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def change_data(page: Any, user: Any) -> dict[str, Any]:
    """The change form as shown, with its split date and time fields as the browser sends them."""
    data = page_data(page)
    data.pop("last_login", None)
    data.pop("date_joined", None)
    data["date_joined_0"], data["date_joined_1"] = (
        f"{user.date_joined:%Y-%m-%d}",
        f"{user.date_joined:%H:%M:%S}",
    )
    return data


@pytest.fixture
def powerful() -> Group:
    """A group with a permission no lead holds."""
    group = Group.objects.create(name="Auditors")
    group.permissions.add(Permission.objects.get(codename="delete_incident"))
    return group


@pytest.mark.parametrize("target", ["itself", "an analyst"])
def test_a_lead_cannot_make_a_superuser_grant_permissions_or_a_group_beyond_its_own(
    lead_client: Client, lead: Any, powerful: Group, target: str
) -> None:
    user = lead if target == "itself" else make_analyst()
    page = lead_client.get(change_url(user))
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields
    assert powerful not in form.fields["groups"].queryset
    assert set(form.fields["groups"].queryset.values_list("name", flat=True)) == {"MDR Ops", "MDR Leads"}
    data = change_data(page, user)
    data["is_superuser"] = "on"
    data["user_permissions"] = [str(Permission.objects.get(codename="delete_incident").pk)]

    response = lead_client.post(change_url(user), data)
    with_group = lead_client.post(change_url(user), {**data, "groups": [*data["groups"], str(powerful.pk)]})

    assert response.status_code == 302, page_errors(response)
    assert with_group.status_code == 200 and "groups" in with_group.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_superuser
    assert not user.user_permissions.exists()
    assert not user.groups.filter(pk=powerful.pk).exists()
    assert not user.has_perm("incidents.delete_incident")


def test_a_lead_cannot_change_a_superuser_or_a_user_with_more_rights(
    lead_client: Client, powerful: Group
) -> None:
    root = make_superuser()
    auditor = make_analyst("auditor")
    auditor.groups.add(powerful)

    for user in (root, auditor):
        assert lead_client.post(change_url(user), {"username": "taken-over"}).status_code == 403
        user.refresh_from_db()
        assert user.username != "taken-over"


def test_a_superuser_still_sets_superuser_and_permissions(superuser_client: Client) -> None:
    lead = make_lead("other-lead")
    page = superuser_client.get(change_url(lead))
    data = change_data(page, lead)
    data["is_superuser"] = "on"

    assert superuser_client.post(change_url(lead), data).status_code == 302
    lead.refresh_from_db()
    assert lead.is_superuser
