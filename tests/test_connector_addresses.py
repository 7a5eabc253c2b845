"""Connector URLs never reach this network: checked at save and at connect, and the checked address is used."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from pytest_django.fixtures import Settings

from incidents.connector_settings import connector_configure
from incidents.connectors.base import ConnectorOutcome, ConnectorSpec
from incidents.connectors.webhook import WebhookConnector
from incidents.execution import connector_spec
from mdrportal.core.http import addresses, transport
from tests.factories import login_verified, make_action_request, make_tenant
from tests.fakes.dns import FakeResolver
from tests.fakes.http_server import (
    FakeHTTPServer,
    Reply,
    fake_http_server as fake_http_server,  # a fixture
)

PUBLIC = "93.184.216.34"


@pytest.fixture
def production(settings: Settings) -> Settings:
    settings.CONNECTOR_ALLOW_LOCAL_URLS = False
    return settings


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "resolves_to"),
    [
        ("https://127.0.0.1.nip.io/", ["127.0.0.1"]),
        ("https://localtest.me/", ["127.0.0.1"]),
        ("https://metadata.google.internal/computeMetadata/v1/", ["169.254.169.254"]),
        ("https://intranet/hooks", ["10.20.0.5"]),
        ("https://metadata.example.com/", ["169.254.169.254"]),
        ("https://cgnat.example.com/", ["100.64.12.7"]),
        ("https://v6-loopback.example.com/", ["::1"]),
        ("https://v4-mapped.example.com/", ["::ffff:127.0.0.1"]),
        ("https://ula.example.com/", ["fd12:3456::1"]),
        ("https://v6-link-local.example.com/", ["fe80::1"]),
        ("https://nat64.example.com/", ["64:ff9b::a00:1"]),
        ("https://v4-compatible.example.com/", ["::10.0.0.1"]),
        ("https://site-local.example.com/", ["fec0::5"]),
        ("https://local-nat64.example.com/", ["64:ff9b:1::a00:1"]),
        ("https://[::169.254.169.254]/", []),
        ("https://half-public.example.com/", [PUBLIC, "10.0.0.1"]),
        ("https://[::ffff:169.254.169.254]/", []),
        ("https://100.100.100.200/", []),
    ],
)
def test_saving_a_url_that_reaches_this_network_is_refused(
    production: Settings, fake_dns: FakeResolver, url: str, resolves_to: list[str]
) -> None:
    host = url.split("/")[2]
    fake_dns.names[host] = resolves_to
    tenant = make_tenant()
    with pytest.raises(ValidationError) as error:
        connector_configure(tenant=tenant, by=None, kind="webhook", url=url, secret="k")
    assert "private or local network" in error.value.message_dict["url"][0]
    assert connector_spec(tenant).kind == "simulated"


@pytest.mark.django_db
def test_saving_a_name_that_does_not_resolve_is_refused(production: Settings) -> None:
    with pytest.raises(ValidationError) as error:
        connector_configure(
            tenant=make_tenant(), by=None, kind="webhook", url="https://nowhere.example.com/", secret="k"
        )
    assert "does not resolve" in error.value.message_dict["url"][0]


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible (::/96)
        "::169.254.169.254",
        "::8.8.8.8",  # deprecated whatever the IPv4 address: no stack should be asked to route it
        "fec0::1",  # site-local (fec0::/10)
        "feff:ffff::1",
        "64:ff9b:1::a00:1",  # local-use NAT64 (64:ff9b:1::/48)
        "64:ff9b:1:ffff::808:808",
    ],
)
def test_ipv4_compatible_site_local_and_local_use_nat64_addresses_are_refused(address: str) -> None:
    assert addresses.address_problem(ipaddress.ip_address(address)) == addresses.LOCAL


@pytest.mark.parametrize(
    "address", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_global_addresses_are_accepted(address: str) -> None:
    assert addresses.address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.django_db
def test_a_name_rebound_to_loopback_after_saving_is_refused_at_connect(
    production: Settings, fake_dns: FakeResolver
) -> None:
    with FakeHTTPServer() as server:
        server.script("/hook", Reply(200, {"ok": True}))
        port = server.url.rsplit(":", 1)[1]
        fake_dns.names["hooks.example.com"] = [PUBLIC]
        tenant = make_tenant()
        connector_configure(
            tenant=tenant, by=None, kind="webhook", url=f"https://hooks.example.com:{port}/hook", secret="k"
        )
        fake_dns.names["hooks.example.com"] = ["127.0.0.1"]  # the name's owner re-points it

        result = WebhookConnector(connector_spec(tenant)).run(make_action_request())

    assert result.outcome == ConnectorOutcome.PERMANENT
    assert "address refused" in result.message
    assert server.received == []


def test_the_request_goes_to_the_checked_address_with_the_name_in_the_host_header(
    fake_dns: FakeResolver,
) -> None:
    with FakeHTTPServer() as server:
        server.script("/hook", Reply(200, {"ok": True}))
        port = server.url.rsplit(":", 1)[1]
        fake_dns.names["hooks.example.com"] = ["127.0.0.1"]
        spec = ConnectorSpec(kind="webhook", url=f"http://hooks.example.com:{port}/hook", secret="k")
        result = WebhookConnector(spec).run(make_action_request())
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    # Resolved once, by the check: nothing else looked the name up again before connecting.
    assert fake_dns.lookups == ["hooks.example.com"]
    assert server.received[0].headers["Host"] == f"hooks.example.com:{port}"


def test_a_redirect_is_not_followed(fake_http_server: FakeHTTPServer) -> None:
    fake_http_server.script("/hook", Reply(307, {}, headers={"Location": "http://127.0.0.1:1/elsewhere"}))
    spec = ConnectorSpec(kind="webhook", url=fake_http_server.url + "/hook", secret="k")
    result = WebhookConnector(spec).run(make_action_request())
    assert (result.outcome, result.details["status"]) == (ConnectorOutcome.PERMANENT, 307)
    assert [r.path for r in fake_http_server.received] == ["/hook"]


# TLS: the socket goes to the checked address, the certificate is still verified for the name.


def _certificate(subject: str, issuer_key, issuer_name, key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHTTPServer, list]]:
    """A local HTTPS server whose certificate names hooks.example.com, from a CA only this test trusts."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = _certificate("Test CA", ca_key, ca_name, ca_key, ca=True)
    leaf = _certificate("hooks.example.com", ca_key, ca_name, key, ca=False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    monkeypatch.setattr(transport, "tls_context", lambda: client)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "leaf.pem")
    names: list = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    server = FakeHTTPServer()
    server._httpd.socket = server_context.wrap_socket(server._httpd.socket, server_side=True)
    with server:
        yield server, names


def test_tls_goes_to_the_checked_address_and_verifies_the_name(
    tls_server: tuple[FakeHTTPServer, list], fake_dns: FakeResolver
) -> None:
    server, sni = tls_server
    server.script("/hook", Reply(200, {"ok": True}))
    port = server.url.rsplit(":", 1)[1]
    fake_dns.names["hooks.example.com"] = ["127.0.0.1"]
    fake_dns.names["other.example.com"] = ["127.0.0.1"]

    good = WebhookConnector(
        ConnectorSpec(kind="webhook", url=f"https://hooks.example.com:{port}/hook", secret="k")
    ).run(make_action_request())
    wrong_name = WebhookConnector(
        ConnectorSpec(kind="webhook", url=f"https://other.example.com:{port}/hook", secret="k")
    ).run(make_action_request())

    assert good.outcome == ConnectorOutcome.SUCCEEDED
    assert sni[0] == "hooks.example.com"
    assert (
        wrong_name.outcome == ConnectorOutcome.TRANSIENT and "SSLCertVerificationError" in wrong_name.message
    )
    assert len(server.received_at("/hook")) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_admin_and_the_api_resolve_outside_any_transaction(
    client, production: Settings, fake_dns: FakeResolver, monkeypatch: pytest.MonkeyPatch, lead: Any
) -> None:
    in_transaction: list[bool] = []
    check = addresses.checked_addresses

    def checked_addresses(*args, **kwargs) -> list[str]:
        in_transaction.append(connection.in_atomic_block)  # the lookup itself runs in another thread
        return check(*args, **kwargs)

    monkeypatch.setattr(addresses, "checked_addresses", checked_addresses)
    fake_dns.names["hooks.example.com"] = [PUBLIC]
    fake_dns.names["localtest.me"] = ["127.0.0.1"]
    tenant = make_tenant()
    login_verified(client, lead)
    form = {"tenant": str(tenant.pk), "kind": "webhook", "client_id": "", "external_tenant_id": ""}
    form |= {"options": "{}", "secret": "k"}

    refused = client.post(
        reverse("admin:incidents_connectorconfig_add"), {**form, "url": "https://localtest.me/mdr"}
    )
    saved = client.post(
        reverse("admin:incidents_connectorconfig_add"), {**form, "url": "https://hooks.example.com/mdr"}
    )
    api = client.put(
        f"/api/v1/tenants/{tenant.pk}/connector/",
        {"kind": "webhook", "url": "https://localtest.me/x", "secret": "k"},
        content_type="application/json",
    )

    assert refused.status_code == 200
    assert "private or local" in str(refused.context["adminform"].form.errors["url"])
    assert saved.status_code == 302
    assert api.status_code == 400 and "url" in api.json()
    assert connector_spec(tenant).url == "https://hooks.example.com/mdr"
    assert in_transaction and not any(in_transaction)


def test_a_tls_answer_that_drips_is_cut_at_the_deadline(
    tls_server: tuple[FakeHTTPServer, list], fake_dns: FakeResolver, settings: Settings
) -> None:
    server, _ = tls_server
    settings.CONNECTOR_TIMEOUT_SECONDS = 1
    server.script("/hook", Reply(200, {"ok": True}, drip_seconds=0.3))  # about 30 s to the end
    port = server.url.rsplit(":", 1)[1]
    fake_dns.names["hooks.example.com"] = ["127.0.0.1"]
    spec = ConnectorSpec(kind="webhook", url=f"https://hooks.example.com:{port}/hook", secret="k")
    started = time.monotonic()
    result = WebhookConnector(spec).run(make_action_request())
    assert (result.outcome, result.details["error"]) == (ConnectorOutcome.TRANSIENT, "timeout")
    # Not a speed target: whether the call was cut off, or read the answer to its end (about 30 s).
    assert time.monotonic() - started < 15


def test_a_call_reaches_an_allowed_network_and_nothing_else(
    tls_server: tuple[FakeHTTPServer, list], fake_dns: FakeResolver, production: Settings
) -> None:
    # The local HTTPS server stands for an on-premises EDR manager on the operator's own network.
    server, _ = tls_server
    server.script("/hook", Reply(200, {"ok": True}))
    port = server.url.rsplit(":", 1)[1]
    fake_dns.names["hooks.example.com"] = ["127.0.0.1"]
    spec = ConnectorSpec(kind="webhook", url=f"https://hooks.example.com:{port}/hook", secret="k")

    refused = WebhookConnector(spec).run(make_action_request())
    production.CONNECTOR_ALLOWED_NETWORKS = ["127.0.0.0/30"]
    allowed = WebhookConnector(spec).run(make_action_request())
    production.CONNECTOR_ALLOWED_NETWORKS = ["127.0.0.4/30"]
    next_door = WebhookConnector(spec).run(make_action_request())

    assert refused.outcome == ConnectorOutcome.PERMANENT and "address refused" in refused.message
    assert allowed.outcome == ConnectorOutcome.SUCCEEDED
    assert next_door.outcome == ConnectorOutcome.PERMANENT and "address refused" in next_door.message
    assert len(server.received_at("/hook")) == 1
