"""The action catalog as the design lists it: every action type's code, in the catalog's order."""

from __future__ import annotations

CATALOG = [
    "isolate_endpoint",
    "release_endpoint",
    "block_sha256",
    "unblock_sha256",
    "block_ip",
    "unblock_ip",
    "block_domain",
    "unblock_domain",
    "disable_user",
    "enable_user",
    "terminate_process",
    "quarantine_file",
    "restore_file",
    "clean_malware",
    "remove_persistence",
    "restore_from_backup",
]
