"""Similar failures are found by nearest trigram distance (`<->`) within the category among active
patterns: a GiST index on (category, normalised_message) answers that top-k directly, where the GIN
index of 0002 had to check every row sharing a trigram (35 ms against 100,000 patterns vs ~1-9 ms).
btree_gist lets the GiST index hold the category too. SQLite has none of it and matches in Python."""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS pattern_active_message_trgm "
    "ON patterns_pattern USING gist (category, normalised_message gist_trgm_ops) "
    "WHERE status = 'active'"
)
DROP_OLD = "DROP INDEX IF EXISTS pattern_message_trgm"
DROP_NEW = "DROP INDEX IF EXISTS pattern_active_message_trgm"
CREATE_OLD = (
    "CREATE INDEX IF NOT EXISTS pattern_message_trgm "
    "ON patterns_pattern USING gin (normalised_message gin_trgm_ops)"
)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_OLD)
        schema_editor.execute(CREATE_INDEX)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_NEW)
        schema_editor.execute(CREATE_OLD)


class Migration(migrations.Migration):
    dependencies = [("patterns", "0002_trigram_matching")]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(forwards, backwards),
    ]
