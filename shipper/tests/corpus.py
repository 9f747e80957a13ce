"""The scrubbing corpus shared with the collector's tests, read as a data file.

``testdata/scrubbing_corpus.json`` at the repository's root (the standalone check,
.ci/shipper-standalone, runs these tests from the checkout, so the file is there too): the
shipper never imports the collector, so the two scrubbers are held to the same answers by
running the same cases.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parents[2] / "testdata" / "scrubbing_corpus.json"

_corpus: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))

TEXT_CASES: list[tuple[str, str]] = [(case["input"], case["expected"]) for case in _corpus["text"]]
SECRET_KEYS: list[str] = _corpus["keys"]["secret"]
ORDINARY_KEYS: list[str] = _corpus["keys"]["not_secret"]
DOCUMENT_CASES: list[tuple[str, Any, Any]] = [
    (case["note"], case["input"], case["expected"]) for case in _corpus["documents"]
]
