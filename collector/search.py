"""Full-text search over a log's text: what it covers, and how PostgreSQL indexes it.

What is searched, in the stored (scrubbed, hashed and masked) document: every string of
``trace.ticket`` (the description as masked, tags, channel, the hashes of hashed fields),
the ReAct iterations' ``thought`` and ``observation``, every string of ``trace.output``
(the final answer) and of ``error`` (type, message, node). Keys are not searched.

PostgreSQL: a stored generated column of the log table, ``search_vector`` =
``jsonb_to_tsvector('simple', <those parts>, '["string"]')``, with a GIN index (migration
0007; every partition has both, and ``collector.partitions`` creates new months with the
column generated and lets ATTACH build the index). The column is not a model field:
PostgreSQL computes it on every insert, ingestion's statement never names it, and the
viewer's queries read it through ``SEARCH_MATCH_SQL`` (the GIN index's operator) or
``SEARCH_CHECK_SQL`` (the same test, unindexed, for a walk along a sort's index).
Stored rather than an expression index because a row the index cannot answer alone (a
phrase's word positions, or a common word read along the time index) is then checked
from the stored vector, not by rebuilding it from the JSON (measured 14 to 22 times
slower, docs/performance.md).
A document whose searched text is over 256 KB is indexed on its first 64K characters
(``FULL_VECTOR_BYTES``: a tsvector holds at most 1 MiB). The ``simple`` configuration
lowercases and splits words, without stemming or stop words: the logs are in many
languages, and a word matches as it was written. The jsonpath calls are ``silent``, so no
document, however odd its trace, can make the expression (and so an insert) fail.
Changing the expression needs a migration that re-adds the column.

SQLite (the embedded default) has no full-text index here: each word is a
case-insensitive ``LIKE`` (ASCII letters only, SQLite's rule) over the same strings,
gathered with ``json_tree``; it reads every log of the client, which is fine at the sizes
SQLite serves.
"""

from __future__ import annotations

from collector.partitions import LOG_TABLE

SEARCH_CONFIG = "simple"
# The parts of a document searched, as SQL/JSON paths (PostgreSQL) and, for SQLite's
# json_tree, the same paths with "[*]" for any array index.
SEARCH_PATHS = (
    "$.trace.ticket",
    "$.trace.react.iterations[*].thought",
    "$.trace.react.iterations[*].observation",
    "$.trace.output",
    "$.error",
)
SEARCH_INDEX_NAME = "log_search"
# The longest search the log viewer takes: a sentence, not a document.
MAX_QUERY_CHARS = 200


# A tsvector holds at most 1 MiB, and a document under the 1 MiB ingestion limit can make
# a bigger one (840 KB of short distinct words made 1.29 MB: the insert failed, and with it
# the whole batch). Searched text of up to FULL_VECTOR_BYTES (as JSON text) is indexed
# whole: each word costs at most its bytes plus 7 in the vector against its bytes plus 3
# or more in the JSON, so that stays under 1 MiB. Past it, the first TRUNCATED_CHARS
# characters of that text are indexed (at most 256 KB even of 4-byte characters), keys and
# JSON punctuation included: such a document is searchable on its beginning only.
FULL_VECTOR_BYTES = 256 * 1024
TRUNCATED_CHARS = 64 * 1024


def _vector_sql(column: str) -> str:
    parts = " || ".join(
        f"jsonb_path_query_array({column}, '{path}', '{{}}', true)" for path in SEARCH_PATHS
    )
    return (
        f"CASE WHEN octet_length(({parts})::text) <= {FULL_VECTOR_BYTES} "
        f"""THEN jsonb_to_tsvector('{SEARCH_CONFIG}'::regconfig, {parts}, '["string"]') """
        f"ELSE to_tsvector('{SEARCH_CONFIG}'::regconfig, left(({parts})::text, {TRUNCATED_CHARS})) "
        "END"
    )


SEARCH_COLUMN = "search_vector"
SEARCH_COLUMN_SQL = (
    f"ALTER TABLE {LOG_TABLE} ADD COLUMN {SEARCH_COLUMN} tsvector "
    f"GENERATED ALWAYS AS ({_vector_sql('document')}) STORED"
)
SEARCH_INDEX_SQL = f"CREATE INDEX {SEARCH_INDEX_NAME} ON {LOG_TABLE} USING gin ({SEARCH_COLUMN})"
# websearch_to_tsquery takes any text: unbalanced quotes or a lone "-" never raise.
_QUERY_SQL = f"websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"
_COLUMN_SQL = f'"{LOG_TABLE}"."{SEARCH_COLUMN}"'
SEARCH_MATCH_SQL = f"{_COLUMN_SQL} @@ {_QUERY_SQL}"
# The same test as a function call, which no index serves: for a walk along the sort's
# index, checking each log's stored vector (the planner would otherwise read every match
# from the GIN index and sort them: 2.7 s for a common phrase at a million logs).
SEARCH_CHECK_SQL = f"ts_match_vq({_COLUMN_SQL}, {_QUERY_SQL})"


def _glob_patterns(path: str) -> list[str]:
    """json_tree ``fullkey`` GLOB patterns for a path and everything below it."""
    # GLOB's "[" opens a class: "[[]" is a literal "[", and "[*]" becomes "[[]*]".
    base = path.replace("[*]", "[[]*]")
    return [base, f"{base}.*", f"{base}[[]*"]


def _sqlite_text_sql() -> str:
    patterns = [p for path in SEARCH_PATHS for p in _glob_patterns(path)]
    where = " OR ".join(f"fullkey GLOB '{p}'" for p in patterns)
    return (
        f'(SELECT group_concat(value, \' \') FROM json_tree("{LOG_TABLE}"."document") '  # noqa: S608 (constants only)
        f"WHERE type = 'text' AND ({where}))"
    )


SQLITE_SEARCH_TEXT_SQL = _sqlite_text_sql()


def search_words(query: str) -> tuple[list[str], list[str]]:
    """(words required, words excluded) of a search, for the SQLite fallback.

    Split on spaces with quotes dropped; a leading "-" excludes a word, as in
    ``websearch_to_tsquery``. Phrases and "or" are PostgreSQL's only.
    """
    required, excluded = [], []
    for word in query.replace('"', " ").split():
        if word.startswith("-"):
            if word.strip("-"):
                excluded.append(word.lstrip("-"))
        elif word.lower() != "or":
            required.append(word)
    return required, excluded
