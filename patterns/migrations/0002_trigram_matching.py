"""Similar failures are found with PostgreSQL's pg_trgm on the normalised message (a GIN trigram
index); SQLite (`make run`) has neither and matches in Python instead."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

CREATE_INDEX = (
    "CREATE INDEX IF NOT EXISTS pattern_message_trgm "
    "ON patterns_pattern USING gin (normalised_message gin_trgm_ops)"
)
DROP_INDEX = "DROP INDEX IF EXISTS pattern_message_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INDEX)


class Migration(migrations.Migration):
    dependencies = [("patterns", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
