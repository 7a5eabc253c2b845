"""`manage.py integration_key_create`: an operator's script makes a pipeline's key as an MDR lead would in the
admin; the key is printed once and works for the tenants named only."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.integration_key_models import IntegrationKey
from tests.factories import as_key, make_analyst, make_lead, make_tenant

pytestmark = pytest.mark.django_db


def create(*args: str) -> str:
    out = StringIO()
    call_command("integration_key_create", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_a_lead_makes_a_key_that_opens_incidents_for_the_tenants_named_only() -> None:
    make_lead("lead")
    ours, other = make_tenant(), make_tenant()
    presented = create("SIEM prod", "--by", "lead", "--tenant", ours.slug)
    key = IntegrationKey.objects.get()
    assert key.name == "SIEM prod" and list(key.tenants.all()) == [ours] and key.created_by.username == "lead"
    assert presented not in {key.digest, key.prefix}
    client = as_key(presented)
    opened = client.post("/api/v1/incidents/", {"tenant": ours.pk, "title": "Ransomware", "severity": "high"})
    assert opened.status_code == 201, opened.content
    refused = client.post(
        "/api/v1/incidents/", {"tenant": other.pk, "title": "Ransomware", "severity": "high"}
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "analyst", "--all-tenants"], "allowed to create integration keys"),
        (["--by", "nobody", "--all-tenants"], "allowed to create integration keys"),
        (["--by", "lead", "--tenant", "no-such-tenant"], "No tenant with the slug 'no-such-tenant'"),
    ],
)
def test_a_key_is_refused_to_whoever_may_not_make_one_and_for_an_unknown_tenant(
    args: list[str], message: str
) -> None:
    make_lead("lead")
    make_analyst("analyst")
    with pytest.raises(CommandError, match=message):
        create("SIEM prod", *args)
    assert not IntegrationKey.objects.exists()
