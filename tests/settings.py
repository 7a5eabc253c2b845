"""The suite's settings: the real ones, read from the environment, with what tests need as defaults.

Debug and local connector URLs are on (the fakes listen on 127.0.0.1), as on the embedded default; a worker
or a `manage.py` started by a test inherits them through the environment. Tests of production behaviour
start a process with DJANGO_SETTINGS_MODULE=mdrportal.settings and the variables they want.
"""

from __future__ import annotations

import os
from pathlib import Path

for _name, _value in {
    "DEBUG": "true",
    "CONNECTOR_ALLOW_LOCAL_URLS": "true",
    "SECRET_KEY": "tests-only-secret-key-not-for-any-deployment-0123456789",
}.items():
    os.environ.setdefault(_name, _value)

from mdrportal.settings import *  # noqa: E402, F403
from mdrportal.settings import VAR_DIR  # noqa: E402

# The embedded default's directories, made here because settings themselves write nothing.
for _folder in ("broker/queue", "broker/processed", "mail", "static"):
    Path(VAR_DIR, _folder).mkdir(parents=True, exist_ok=True)
