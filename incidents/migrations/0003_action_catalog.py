from __future__ import annotations

from django.db import migrations

# code, name, category, revert code, description
CATALOG = [
    (
        "isolate_endpoint",
        "Isolate endpoint",
        "containment",
        "release_endpoint",
        "Cut the endpoint off the network except for the EDR's own channel.",
    ),
    (
        "release_endpoint",
        "Release endpoint from isolation",
        "containment",
        "",
        "Give an isolated endpoint its network access back.",
    ),
    (
        "block_sha256",
        "Block file hash (SHA-256)",
        "containment",
        "unblock_sha256",
        "Prevent any file with this SHA-256 from running on every endpoint.",
    ),
    ("unblock_sha256", "Unblock file hash (SHA-256)", "containment", "", "Lift a file hash block."),
    ("block_ip", "Block IP address", "containment", "unblock_ip", "Block traffic to and from an address."),
    ("unblock_ip", "Unblock IP address", "containment", "", "Lift an address block."),
    (
        "block_domain",
        "Block domain",
        "containment",
        "unblock_domain",
        "Block resolution of and traffic to a domain.",
    ),
    ("unblock_domain", "Unblock domain", "containment", "", "Lift a domain block."),
    (
        "disable_user",
        "Disable user account",
        "containment",
        "enable_user",
        "Disable the account and end its sessions.",
    ),
    ("enable_user", "Re-enable user account", "containment", "", "Re-enable a disabled account."),
    ("terminate_process", "Terminate process", "containment", "", "Kill a running malicious process."),
    (
        "quarantine_file",
        "Quarantine file",
        "containment",
        "restore_file",
        "Move a malicious file to quarantine.",
    ),
    ("restore_file", "Restore file from quarantine", "containment", "", "Put a quarantined file back."),
    (
        "clean_malware",
        "Clean and remove malware",
        "neutralization",
        "",
        "Remove the malware and its artifacts from the endpoint.",
    ),
    (
        "remove_persistence",
        "Remove persistence",
        "neutralization",
        "",
        "Remove scheduled tasks, services, run keys and other footholds.",
    ),
    (
        "restore_from_backup",
        "Restore from known-good backup",
        "neutralization",
        "",
        "Restore encrypted or damaged files and systems from backup.",
    ),
]


def seed(apps, schema_editor):
    ActionType = apps.get_model("incidents", "ActionType")
    by_code = {}
    for code, name, category, _revert, description in CATALOG:
        by_code[code], _ = ActionType.objects.update_or_create(
            code=code, defaults={"name": name, "category": category, "description": description}
        )
    for code, *_rest in CATALOG:
        revert = _rest[2]
        if revert:
            ActionType.objects.filter(code=code).update(revert=by_code[revert])


def unseed(apps, schema_editor):
    ActionType = apps.get_model("incidents", "ActionType")
    ActionType.objects.filter(code__in=[c[0] for c in CATALOG]).update(revert=None)
    ActionType.objects.filter(code__in=[c[0] for c in CATALOG]).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_append_only")]

    operations = [migrations.RunPython(seed, unseed)]
