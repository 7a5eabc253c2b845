"""Settings come from the environment; a malformed value stops the process and names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mdrportal.env import env_bool, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parent.parent


def start_django(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "MDR_VAR_DIR": str(tmp_path), **env},
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
        ({"API_TOKEN_RATE": "ten a minute"}, "API_TOKEN_RATE"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
    ],
)
def test_a_malformed_setting_stops_the_site_naming_the_variable(
    tmp_path: Path, env: dict, named: str
) -> None:
    result = start_django(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr.splitlines()[-1]


def test_the_embedded_default_starts_and_keeps_its_generated_secret_key(tmp_path: Path) -> None:
    assert start_django(tmp_path).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert start_django(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


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
