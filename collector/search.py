"""Full-text search over a log's text: what it covers, and the index it reads on PostgreSQL.

What is searched, in the stored (scrubbed, hashed and masked) document: every string of
``trace.ticket`` (the description as masked, tags, channel, the hashes of hashed fields),
the ReAct iterations' ``thought`` and ``observation``, every string of ``trace.output``
(the final answer) and of ``error`` (type, message, node). Keys are not searched.

PostgreSQL: one expression, ``jsonb_to_tsvector('simple', <those parts>, '["string"]')``,
indexed with GIN on the partitioned log table (migration 0006; every partition gets it,
new months too when ``collector.partitions`` attaches them). The query must repeat the
very expression for the planner to use the index, so both come from ``SEARCH_VECTOR_SQL``.
The ``simple`` configuration lowercases and splits words, without stemming or stop words:
the logs are in many languages, and a word matches as it was written. The jsonpath
calls are ``silent`` so that no document, however odd its trace, can make the expression
(and so an insert) fail.

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


def _vector_sql(column: str) -> str:
    parts = " || ".join(
        f"jsonb_path_query_array({column}, '{path}', '{{}}', true)" for path in SEARCH_PATHS
    )
    return f"""jsonb_to_tsvector('{SEARCH_CONFIG}'::regconfig, {parts}, '["string"]')"""


# In the index (unqualified column) and in queries (qualified, the same expression tree).
SEARCH_INDEX_SQL = (
    f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX_NAME} ON {LOG_TABLE} "
    f"USING gin (({_vector_sql('document')}))"
)
SEARCH_VECTOR_SQL = _vector_sql(f'"{LOG_TABLE}"."document"')
# websearch_to_tsquery takes any text: unbalanced quotes or a lone "-" never raise.
SEARCH_MATCH_SQL = f"{SEARCH_VECTOR_SQL} @@ websearch_to_tsquery('{SEARCH_CONFIG}'::regconfig, %s)"


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
