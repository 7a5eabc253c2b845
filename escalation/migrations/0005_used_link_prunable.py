"""Used-link rows stay append-only, except that rows past their retention may be pruned.

The trigger still refuses every UPDATE, and every DELETE unless the deleting transaction declared, with
set_config('mdr.prune_used_links_before', ...), a cut-off the row is older than (manage.py prune_expired).
"""

from __future__ import annotations

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION mdr_used_link_refuse_change() RETURNS trigger AS $$
DECLARE
    cutoff text := current_setting('mdr.prune_used_links_before', true);
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(cutoff, '') <> '' AND OLD.used_at < cutoff::timestamptz THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS escalation_usedlink_append_only ON escalation_usedlink;
CREATE TRIGGER escalation_usedlink_append_only BEFORE UPDATE OR DELETE ON escalation_usedlink
    FOR EACH ROW EXECUTE FUNCTION mdr_used_link_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS escalation_usedlink_append_only ON escalation_usedlink;
CREATE TRIGGER escalation_usedlink_append_only BEFORE UPDATE OR DELETE ON escalation_usedlink
    FOR EACH ROW EXECUTE FUNCTION mdr_refuse_change();
DROP FUNCTION IF EXISTS mdr_used_link_refuse_change();
"""


def forward(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, None)


def backward(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, None)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0004_test_calls")]

    operations = [migrations.RunPython(forward, backward)]
