"""manage.py prune_expired: idempotency keys and used-link rows past their retention go, the rest stays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from escalation.models import UsedLink
from incidents.models import IdempotencyKey
from mdrportal.core.append_only import AppendOnlyError
from operations.services import used_link_retention
from tenants.models import ApiToken
from tests.credentials import api_token_for
from tests.factories import make_incident, make_tenant

pytestmark = pytest.mark.django_db


def test_rows_past_their_retention_are_deleted_and_younger_ones_kept(settings, capsys, analyst: Any) -> None:
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS, settings.LINK_MAX_AGE_HOURS = 48, 24
    now, analyst, incident = timezone.now(), analyst, make_incident(make_tenant())
    for key, age in (("old", timedelta(hours=49)), ("young", timedelta(hours=47))):
        IdempotencyKey.objects.create(
            user=analyst, key=key, fingerprint="f", incident=incident, created_at=now - age
        )
    for nonce, age in (("old", timedelta(hours=49)), ("young", timedelta(hours=47))):
        UsedLink.objects.create(nonce=nonce, purpose="ack", used_at=now - age)
    assert used_link_retention() == timedelta(hours=48)
    expired, _ = api_token_for(analyst, second_factor_age=None)
    live, _ = api_token_for(analyst, second_factor_age=None)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(seconds=1))

    call_command("prune_expired")

    out = capsys.readouterr().out
    assert "Deleted 1 idempotency key(s), 1 used-link row(s) and 1 expired API token(s)." in out
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]
    assert list(UsedLink.objects.values_list("nonce", flat=True)) == ["young"]


def test_used_links_stay_append_only_for_everything_else() -> None:
    UsedLink.objects.create(nonce="n1", purpose="ack", used_at=timezone.now() - timedelta(days=30))
    with pytest.raises(AppendOnlyError):
        UsedLink.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_other_deletes_and_updates_of_used_links() -> None:
    UsedLink.objects.create(nonce="n1", purpose="ack", used_at=timezone.now() - timedelta(days=30))
    table = UsedLink._meta.db_table
    for statement in (f"DELETE FROM {table}", f"UPDATE {table} SET purpose = 'x'"):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # A cut-off older than the row does not let it go either.
        cursor.execute("SELECT set_config('mdr.prune_used_links_before', %s, true)", ["2000-01-01T00:00:00Z"])
        cursor.execute(f"DELETE FROM {table}")
    assert UsedLink.objects.count() == 1
