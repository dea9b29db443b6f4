"""Full-text search: an FTS5 table on SQLite, per-language expression indexes on PostgreSQL."""

from django.db import migrations

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE programmes_pagecontent_fts USING fts5("
    "version_id UNINDEXED, language UNINDEXED, title, text, tokenize='unicode61 remove_diacritics 0')"
)
SQLITE_DROP = "DROP TABLE IF EXISTS programmes_pagecontent_fts"
PG_CREATE = [
    "CREATE INDEX programmes_pagecontent_fts_sv ON programmes_pagecontent "
    "USING gin (to_tsvector('swedish', title || ' ' || text)) WHERE language = 'sv'",
    "CREATE INDEX programmes_pagecontent_fts_en ON programmes_pagecontent "
    "USING gin (to_tsvector('english', title || ' ' || text)) WHERE language = 'en'",
]
PG_DROP = [
    "DROP INDEX IF EXISTS programmes_pagecontent_fts_sv",
    "DROP INDEX IF EXISTS programmes_pagecontent_fts_en",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)
    elif vendor == "postgresql":
        for statement in PG_CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)
    elif vendor == "postgresql":
        for statement in PG_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("programmes", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
