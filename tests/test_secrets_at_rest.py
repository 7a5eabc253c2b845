"""Connector secrets are encrypted at rest with keys from the environment, and keys can be rotated."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from pytest_django.fixtures import Settings

from incidents.connector_settings import connector_configure
from incidents.execution import connector_spec
from incidents.models import ConnectorConfig
from mdrportal.core.secret_fields import SecretUnreadable
from tests.factories import make_tenant

SECRET = "hmac-signing-key-PLAINTEXT-4711"
BEFORE, AFTER = (
    ("incidents", "0009_cancel_and_stop_events"),
    ("incidents", "0010_connectorconfig_secret_encrypted"),
)


def raw_secrets() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM incidents_connectorconfig ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def webhook(tenant, secret: str = SECRET) -> ConnectorConfig:
    return connector_configure(
        tenant=tenant, by=None, kind="webhook", url="https://hooks.example.com/x", secret=secret
    )


@pytest.mark.django_db
def test_the_column_holds_no_plaintext_and_the_connector_gets_the_secret() -> None:
    tenant = make_tenant()
    webhook(tenant)
    [stored] = raw_secrets()
    assert SECRET not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert connector_spec(tenant).secret == SECRET


@pytest.mark.django_db
def test_an_empty_secret_stays_empty() -> None:
    connector_configure(tenant=make_tenant(), by=None, kind="simulated")
    assert raw_secrets() == [""]


@pytest.mark.django_db
def test_the_first_key_encrypts_every_key_decrypts_and_rotation_drops_the_old_one(settings: Settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_KEYS = [old]
    tenant = make_tenant()
    webhook(tenant)
    settings.SECRETS_ENCRYPTION_KEYS = [new, old]
    assert connector_spec(tenant).secret == SECRET  # still readable through the old key
    call_command("rotate_secrets", stdout=io.StringIO())
    [stored] = raw_secrets()
    assert Fernet(new.encode()).decrypt(stored.encode()).decode() == SECRET
    settings.SECRETS_ENCRYPTION_KEYS = [new]
    assert connector_spec(tenant).secret == SECRET


@pytest.mark.django_db
def test_a_secret_no_key_opens_is_a_clear_error_not_garbage(settings: Settings) -> None:
    tenant = make_tenant()
    webhook(tenant)
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable, match="SECRETS_ENCRYPTION_KEYS"):
        connector_spec(tenant)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_encrypts_the_secrets_already_stored() -> None:
    tenant = make_tenant()  # with today's tenants tables, which going back in incidents leaves as they are
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old_apps = executor.loader.project_state([BEFORE]).apps
    old_apps.get_model("incidents", "ConnectorConfig").objects.create(
        tenant_id=tenant.pk, kind="webhook", url="https://hooks.example.com/x", secret=SECRET
    )
    assert raw_secrets() == [SECRET]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    [stored] = raw_secrets()
    assert SECRET not in stored
    assert ConnectorConfig.objects.get().secret == SECRET
