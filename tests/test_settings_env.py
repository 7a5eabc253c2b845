"""Settings come from the environment; a malformed value stops the process and names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mdrportal.core.env import env_bool, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parent.parent
# A well-formed key to encrypt connector secrets, which production settings require.
FERNET_KEY = "TmV2ZXItdXNlZC1pbi1wcm9kdWN0aW9uLTAxMjM0NTY="
# What a deployment that sets nothing has: none of these (the suite's own settings set some).
PRODUCTION_UNSET = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CONNECTOR_ALLOW_LOCAL_URLS",
    "PUBLIC_BASE_URL",
    "PORT",
    "SECRETS_ENCRYPTION_KEYS",
}


def start_django(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_UNSET}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "mdrportal.settings", "MDR_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "amqp://x"}, "CELERY_BROKER_URL"),
        ({"EMAIL_HOST": "smtp.example", "EMAIL_PORT": "twenty-five"}, "EMAIL_PORT"),
        ({"DEBUG": "false", "ALLOWED_HOSTS": "portal.example"}, "SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "x" * 50}, "ALLOWED_HOSTS"),
        ({"PUBLIC_BASE_URL": "portal.example"}, "PUBLIC_BASE_URL"),
        ({"CONNECTOR_ALLOWED_NETWORKS": "10.20.0.5/24"}, "CONNECTOR_ALLOWED_NETWORKS"),
        (
            {"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "portal.example"},
            "SECRETS_ENCRYPTION_KEYS",
        ),
        ({"SECRETS_ENCRYPTION_KEYS": "not-a-fernet-key"}, "SECRETS_ENCRYPTION_KEYS"),
        (
            {
                "DEBUG": "false",
                "SECRET_KEY": "x" * 50,
                "ALLOWED_HOSTS": "portal.example",
                "CONNECTOR_ALLOW_LOCAL_URLS": "true",
            },
            "CONNECTOR_ALLOW_LOCAL_URLS",
        ),
        ({"API_TOKEN_RATE": "ten a minute"}, "API_TOKEN_RATE"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
    ],
)
def test_a_malformed_setting_stops_the_site_naming_the_variable(
    tmp_path: Path, env: dict, named: str
) -> None:
    valid = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "portal.example", "SECRETS_ENCRYPTION_KEYS": FERNET_KEY}
    result = start_django(tmp_path, **{**{k: v for k, v in valid.items() if k != named}, **env})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr.splitlines()[-1]


def dev_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment ./run gives its processes: scripts/dev-env sourced in bash."""
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_UNSET}
    result = subprocess.run(
        ["bash", "-c", "source scripts/dev-env && env -0"],
        cwd=ROOT,
        env={**clean, "MDR_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(line.split("=", 1) for line in result.stdout.split("\0") if "=" in line)


def test_without_settings_debug_is_off_and_a_secret_key_is_required(tmp_path: Path) -> None:
    result = start_django(tmp_path, ALLOWED_HOSTS="portal.example")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_importing_the_settings_writes_nothing(tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = start_django(
        var,
        DEBUG="false",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="portal.example",
        SECRETS_ENCRYPTION_KEYS=FERNET_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert not var.exists()


def test_production_settings_keep_connectors_off_local_addresses_and_compress_static_files(
    tmp_path: Path,
) -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.CONNECTOR_ALLOW_LOCAL_URLS, s.STORAGES['staticfiles']['BACKEND'])"
    )
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_UNSET}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "mdrportal.settings",
            "MDR_VAR_DIR": str(tmp_path),
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "portal.example",
            "SECRETS_ENCRYPTION_KEYS": FERNET_KEY,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [
        "False",
        "False",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


def test_run_makes_a_secret_key_once_and_links_follow_the_port(tmp_path: Path) -> None:
    first = dev_env(tmp_path, PORT="18123")
    assert first["DEBUG"] == "true" and first["CONNECTOR_ALLOW_LOCAL_URLS"] == "true"
    assert first["PUBLIC_BASE_URL"] == "http://127.0.0.1:18123"
    assert len(first["SECRET_KEY"]) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    again = dev_env(tmp_path, PORT="0.0.0.0:18124")
    assert again["SECRET_KEY"] == first["SECRET_KEY"]
    assert again["PUBLIC_BASE_URL"] == "http://127.0.0.1:18124" and again["PORT"] == "0.0.0.0:18124"
    assert dev_env(tmp_path)["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"


def test_the_embedded_default_starts_with_what_run_sets(tmp_path: Path) -> None:
    env = dev_env(tmp_path)
    result = start_django(tmp_path, **{k: env[k] for k in ("DEBUG", "SECRET_KEY", "PUBLIC_BASE_URL")})
    assert result.returncode == 0, result.stderr


def test_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "7")
    monkeypatch.setenv("X_LIST", "a.example, b.example")
    assert env_bool("X_BOOL", False) is True
    assert env_bool("X_UNSET", True) is True
    assert env_int("X_INT", 1, minimum=1) == 7
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    with pytest.raises(ImproperlyConfigured, match="X_INT=7 is above"):
        env_int("X_INT", 1, maximum=5)
    monkeypatch.setenv("X_LIST", "a,,b")
    with pytest.raises(ImproperlyConfigured, match="X_LIST"):
        env_list("X_LIST", [])
    with pytest.raises(ImproperlyConfigured, match="X_URL"):
        monkeypatch.setenv("X_URL", "ftp://x")
        env_url("X_URL", "http://a", schemes=("http", "https"))


@pytest.mark.parametrize(
    ("broker", "transport"),
    [
        ("filesystem://", "mdrportal.filesystem_broker:Transport"),
        ("redis://127.0.0.1:6379/0", "mdrportal.redis_broker:Transport"),
    ],
)
def test_each_broker_gets_the_transport_that_survives_its_faults(
    tmp_path: Path, broker: str, transport: str
) -> None:
    code = "import django; django.setup(); from django.conf import settings as s; print(s.CELERY_BROKER_TRANSPORT)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "CELERY_BROKER_URL": broker},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [transport], result.stderr
