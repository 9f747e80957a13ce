import json
import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector import scrubbing
from collector.models import WorkflowLog
from collector.scrubbing import (
    EMAIL_MASK,
    MAX_DEPTH,
    REDACTED,
    DocumentTooDeep,
    is_secret_key,
    scrub_document,
    scrub_text,
)
from collector.tests.corpus import DOCUMENT_CASES, ORDINARY_KEYS, SECRET_KEYS, TEXT_CASES
from collector.tests.factories import log_document

# -- The shared corpus (testdata/scrubbing_corpus.json; the shipper's tests run it too) ---


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_corpus_text_is_masked_as_the_corpus_says(text, expected):
    assert scrub_text(text) == expected


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_corpus_text_is_masked_through_the_entry_point_ingestion_uses(text, expected):
    """scrub_document is what ingestion calls: its fast path (one search over the joined
    strings, each rule behind its cheap check) must send every case to the full scrub,
    wherever the text sits: a value, a key, among other strings."""
    document = {"a": "nothing here", "trace": {"items": ["ok", text, 3]}, text: "v"}
    scrubbed = scrub_document(document)
    assert scrubbed["trace"]["items"] == ["ok", expected, 3]
    assert scrubbed[expected] == (REDACTED if is_secret_key(text) else "v")


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_corpus_secret_keys_are_secret(key):
    assert is_secret_key(key)
    assert scrub_document({"trace": {key: "zz-value-1234"}}) == {"trace": {key: REDACTED}}


@pytest.mark.parametrize("key", ORDINARY_KEYS)
def test_corpus_ordinary_keys_are_not_secret(key):
    assert not is_secret_key(key)
    assert scrub_document({"trace": {key: "kept"}}) == {"trace": {key: "kept"}}


@pytest.mark.parametrize(("note", "document", "expected"), DOCUMENT_CASES)
def test_corpus_documents_are_scrubbed_as_the_corpus_says(note, document, expected):
    assert scrub_document(document) == expected, note


# -- Behaviour of the collector's own entry point -------------------------------------


def test_secret_values_are_redacted_at_any_depth():
    document = {
        "config": {
            "freshdesk_api_key": "fd_live_9f8e7d6c5b4a",
            "nested": [{"password": "hunter2"}],
        },
        "trace": {"react": {"iterations": [{"headers": {"Authorization": "Bearer abc.def"}}]}},
        "tokens_used": 1200,
    }
    scrubbed = scrub_document(document)
    text = json.dumps(scrubbed)
    for secret in ["fd_live_9f8e7d6c5b4a", "hunter2", "abc.def"]:
        assert secret not in text
    assert scrubbed["config"]["freshdesk_api_key"] == REDACTED
    assert scrubbed["tokens_used"] == 1200


def test_the_input_document_is_not_modified():
    document = {"password": "hunter2", "text": "mail me at a@b.example.com"}
    scrub_document(document)
    assert document == {"password": "hunter2", "text": "mail me at a@b.example.com"}


def test_emails_in_any_string_are_masked_with_the_shared_token():
    scrubbed = scrub_document(
        {"trace": {"output": {"text": "Hi jane.doe@example.com, cc m.rossi+x@mail.example.org"}}}
    )
    assert scrubbed["trace"]["output"]["text"] == "Hi [email], cc [email]"
    assert EMAIL_MASK == "[email]"


def test_credentials_inside_free_text_are_masked():
    message = (
        "order_lookup timed out (Authorization: Bearer ord_live_5566) key sk-proj-abc123def456"
    )
    scrubbed = scrub_text(message)
    assert "ord_live_5566" not in scrubbed and "sk-proj-abc123def456" not in scrubbed
    assert "timed out" in scrubbed


def test_our_own_api_keys_in_text_are_masked():
    key = "flk_0123456789ab_" + "A" * 43
    assert key not in scrub_text(f"configured with {key}")


def test_hostile_nesting_is_refused_not_crashed():
    document: dict = {}
    inner = document
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(DocumentTooDeep):
        scrub_document(document)


def test_null_under_secret_key_stays_null():
    assert scrub_document({"api_key": None}) == {"api_key": None}


def test_a_document_with_nothing_to_scrub_comes_back_as_it_is():
    document = {
        "trace": {"note": "Replace the cartridge; see page 4.", "n": [1, 2]},
        "timestamp": "2026-11-20T09:14:09.940000+00:00",
        "hash": "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        "masked": "password=[REDACTED] to [email]",
    }
    assert scrub_document(document) is document


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_emails = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,5})?@[a-z]{2,8}\.(com|org|example)", fullmatch=True)


@given(document=_json, email=_emails, secret=st.from_regex(r"[A-Za-z0-9]{12,20}", fullmatch=True))
def test_no_email_or_secret_value_survives(document, email, secret):
    hostile = {"data": document, "note": f"write to {email} now", "meta": {"token": secret}}
    scrubbed = scrub_document(hostile)
    text = json.dumps(scrubbed)
    assert email not in text
    assert scrubbed["meta"]["token"] == REDACTED
    assert scrubbed["note"] == f"write to {EMAIL_MASK} now"


# -- The fast path's checks hold to their rules -----------------------------------------

# Pieces of every rule's matches and near misses, so random texts built from them hit the
# edges of each rule's cheap check (a trigger cut in two, a separator away, case folded).
_FRAGMENTS = sorted(
    {
        *(piece for text, _ in TEXT_CASES for piece in re.split(r"(\W)", text) if piece),
        *SECRET_KEYS[:40],
        "=",
        ":",
        " ",
        "\n",
        '"',
        "'",
        "@",
        "%40",
        "://",
        "u:p@h",
        "-",
        "_",
        ".",
        "/",
        "+",
        "4111",
        "1111",
        "5555",
        "4444",
        "DE89",
        "3704",
        "0044",
        "0532",
        "0130",
        "00",
        "GB82",
        "WEST",
        "-----BEGIN",
        " PRIVATE KEY-----",
        "Bearer",
        "BASIC",
        "is",
        "PA\u017f\u017fWORD",  # long s: re folds it to "s" under IGNORECASE
        "\u212aey",
        "\u0130BAN",
        "sk",
        "_live_",
        "gh",
        "p_",
        "AKIA",
        "IOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "hooks.slack.com/services/",
        "T0000000/B000000/XXXXXXXX",
        "[REDACTED]",
        "[email]",
        "mot de passe",
        "API key",
        "pin code",
        "PIN",
        "passcode",
        "pwd",
        "1234",
        "%2540",
        "%25",
        "de89",
        "0440",
        "aa00",
        "SG.",
        "hf_",
        "whsec_",
        "correct horse",
        "\t",
    }
)
_texts = st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join)


def _every_rule_applied(text: str) -> str:
    """Every rule applied, none skipped: what scrub_text must equal (and the shipper does)."""
    for rule in scrubbing._RULES:
        text = rule.apply(text)
    return text


@given(_texts, _texts)
def test_no_text_a_rule_changes_gets_past_the_fast_path(first, second):
    """Every rule's cheap check (a substring, a byte-class run, a backwards scan) is true
    for every text the rule changes: scrub_text, which skips rules by those checks, gives
    what applying every rule gives, and a document whose strings some rule would change
    is never taken for clean."""
    for text in (first, second):
        assert scrub_text(text) == _every_rule_applied(text)
    changed = any(_every_rule_applied(t) != t for t in (first, second))
    if changed:
        assert scrubbing._plan({"a": first, "b": [second]}) is not None
        assert scrubbing._plan({first: 1, second: 2}) is not None


def _rules_asked_one_by_one(text: str) -> tuple:
    folded = scrubbing._fold(text)
    return tuple(rule for rule in scrubbing._RULES if rule.may_change(text, folded))


@given(st.one_of(_texts, st.text(max_size=60)))
def test_the_one_pass_trigger_search_picks_the_rules_their_own_checks_pick(text):
    """The clean check finds every rule's triggers in one automaton pass; it selects
    exactly the rules that asking each rule's may_change selects."""
    assert scrubbing._rules_that_may_change(text, scrubbing._fold(text)) == (
        _rules_asked_one_by_one(text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "@" * 300 + " password is hunter22x",
        "x%3d" * 300 + " sk-abcdefghijklmnop",
        "api " * 100 + "@" * 200,
        "@" * 255 + " ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        # Lower-cased case-sensitive triggers count towards the bound too ("asia", ASIA).
        "Asia " * 300 + "AKIAIOSFODNN7EXAMPLE",
    ],
    ids=["many-at", "many-encoded", "both-haystacks", "just-under", "lower-cased-words"],
)
def test_a_text_full_of_triggers_gets_the_same_rules_and_its_secrets_masked(text):
    """Past a bound on reported occurrences the rules are asked one by one: the same
    choice, at the cost the per-rule checks had."""
    assert scrubbing._rules_that_may_change(text, scrubbing._fold(text)) == (
        _rules_asked_one_by_one(text)
    )
    assert scrub_document({"note": text})["note"] == _every_rule_applied(text)


@pytest.mark.parametrize(
    "text",
    [
        "akiaiosfodnn7example and aiza in lower case",  # AKIA, AIza: case-sensitive
        "AKIAIOSFODNN7EXAMPLE",
        "A\u212aIAIOSFODNN7EXAMPLE",  # a Kelvin sign folds to "k", and is no "K"
        "EYJHBGCIOIJIUZI1NIJ9 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
        "PASSWORD: Hunter22x, SG.abc and sg.abc, HF_abc",
    ],
)
def test_case_sensitive_triggers_are_found_as_written_in_the_one_pass(text):
    """The one pass searches the folded copy, case-sensitive triggers lower-cased; what
    it finds of them counts only where the text holds them as written."""
    folded = scrubbing._fold(text)
    assert scrubbing._rules_that_may_change(text, folded) == _rules_asked_one_by_one(text)
    assert scrub_text(text) == _every_rule_applied(text)


def test_a_case_sensitive_trigger_outside_ascii_is_refused():
    rule = scrubbing._Rule(re.compile("x"), "y", triggers=("\u212aey",))
    with pytest.raises(ValueError, match="ASCII"):
        scrubbing._automaton((rule,))


def test_the_one_pass_trigger_search_agrees_on_every_corpus_text():
    for text, _ in TEXT_CASES:
        for variant in _variants(text):
            folded = scrubbing._fold(variant)
            assert scrubbing._rules_that_may_change(variant, folded) == (
                _rules_asked_one_by_one(variant)
            ), variant


@given(
    st.lists(
        st.sampled_from(
            ["DE89", "de89", "AA00", "0", "7", "B", "b", " ", "  ", "x", "-", "\u00e9"]
        ),
        max_size=30,
    ).map("".join)
)
def test_the_iban_check_finds_what_the_iban_start_pattern_finds(text):
    """The IBAN check looks for the pattern's first four bytes and matches the rest there;
    over texts of the classes it reads (capitals, small letters, digits, spaces, others),
    it answers what searching with the whole pattern answers."""
    classes = scrubbing._encoded(text).translate(scrubbing._IBAN_BYTES)
    expected = scrubbing._IBAN_START.search(classes) is not None
    assert scrubbing._may_hold_iban(text) == expected


@given(_texts)
def test_the_pair_check_answers_what_masking_the_pairs_does(text):
    """Matched at each separator instead of searched for, the pair check still says
    exactly whether masking the pairs changes the text."""
    assert scrubbing._pairs_change(text) == (scrubbing._mask_pairs(text) != text)


def _variants(text: str) -> list[str]:
    return [text, text.upper(), text.lower(), f"x {text} y", f"{text}\n{text}", f"({text})"]


_RULE_IDS = [f"{n}:{rule.pattern.pattern[:20]}" for n, rule in enumerate(scrubbing._RULES)]


@pytest.mark.parametrize("rule", scrubbing._RULES, ids=_RULE_IDS)
def test_each_rules_check_is_true_wherever_the_rule_changes_a_corpus_text(rule):
    """Rule by rule, over every corpus text in a few spellings: where applying the rule
    changes the text, its cheap check and its exact check both say so. The corpus holds a
    case for every rule (the last assertion), so a new rule comes with its cases."""
    changed = 0
    for text, _ in TEXT_CASES:
        for variant in _variants(text):
            if rule.apply(variant) != variant:
                changed += 1
                assert rule.may_change(variant, scrubbing._fold(variant)), variant
                assert rule.changes(variant), variant
            else:
                assert not rule.changes(variant), variant
    assert changed, "no corpus case for this rule"


def test_every_rule_has_a_fast_path_check():
    """A new rule without one would run its regex on every document, or never."""
    for rule in scrubbing._RULES:
        assert rule.triggers or rule.test is not None, rule.pattern.pattern


# -- Linear time on hostile input --------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [rule.pattern for rule in scrubbing._RULES]
    + [
        scrubbing._PAIR_VALUE,
        scrubbing._PAIR_VALUE_MORE,
        scrubbing._SPACED_BACKWARDS,
        scrubbing._PAIR_REVERSED,
        scrubbing._SECRET_AFTER_WORD,
    ],
    ids=lambda pattern: pattern.pattern[:24],
)
def test_text_patterns_have_only_bounded_repetitions(pattern):
    """An unbounded repetition let a long run of address characters before an '@' cost
    quadratic time: one hostile string could hold a worker for an hour. Bounded ones keep
    every scan linear in the text's length."""
    outside_classes = re.sub(r"\[(?:\\.|[^\]])*\]", "", pattern.pattern)
    assert not re.search(r"(?<!\\)[+*]|\{\d+,\}", outside_classes), outside_classes


def test_long_hostile_runs_are_still_masked_at_their_end():
    text = "x" * 5000 + "@example.com and " + "b." * 3000 + " tail"
    scrubbed = scrub_text(text)
    assert "@example.com" not in scrubbed and scrubbed.endswith(" tail")
    assert scrubbed.startswith("x" * 100)


_HOSTILE = {
    "digits": lambda n: "4" * n,
    "card groups": lambda n: "4111 " * (n // 5),
    "at signs": lambda n: "@" * n,
    "letters then at": lambda n: "a" * n + "@",
    "percent-encoded at": lambda n: "%40" * (n // 3),
    "password=": lambda n: "password=" * (n // 9),
    "password is": lambda n: "password is " * (n // 12),
    "name=": lambda n: "a=" * (n // 2),
    "long names": lambda n: ("x" * 79 + ":") * (n // 80),
    "unclosed quote": lambda n: 'password="' + "x" * n,
    "dotted then at": lambda n: "a." * (n // 2) + "@x",
    "base64 then at": lambda n: "Zm9v" * (n // 4) + "@",
    "pem begins": lambda n: "-----BEGIN PRIVATE KEY-----" * (n // 27),
    # Bodies longer than the rule's bound, repeated: one body of n characters left n - 16384
    # to the other rules, 9.7 times more at 100 KB than at 25 KB for linear work.
    "pem body": lambda n: ("-----BEGIN PRIVATE KEY-----" + "A" * 20_000) * (n // 20_000),
    "iban groups": lambda n: "DE89 " * (n // 5),
    "url user": lambda n: "a://b:" * (n // 6),
    "bearer": lambda n: "Bearer " * (n // 7),
    "aws-like runs": lambda n: ("A1b" * 14)[:41] * (n // 41),
    "value words": lambda n: "password=" + "ab " * (n // 3),
    "values then pairs": lambda n: ("pw=a " + "b " * 40 + "x=1 ") * (n // 90),
    "spaced names": lambda n: "mot de passe " * (n // 13),
    "spaced pairs": lambda n: "api key: a b " * (n // 13),
    "spaced names in a value": lambda n: "password=a " + "api key " * (n // 8),
    "pins": lambda n: "pin 1234-" * (n // 9),
    "passcode is": lambda n: "passcode is " * (n // 12),
    "sendgrid dots": lambda n: "SG." * (n // 3),
    "sendgrid bodies": lambda n: ("SG." + "a" * 30 + ".") * (n // 34),
    "token prefixes": lambda n: "hf_npm_whsec_pypi-AgE" * (n // 21),
    "pypi body": lambda n: "pypi-AgE" + "A" * n,
    "double-encoded at": lambda n: "%25" * (n // 3),
    "lower iban groups": lambda n: "de89 " * (n // 5),
    "lower iban starts": lambda n: "aa00x" * (n // 5),
    "encoded pairs": lambda n: "password%3D" * (n // 11),
    "encoded long names": lambda n: ("x" * 79 + "%3D") * (n // 82),
    "encoded value percents": lambda n: "password%3D" + "%2" * (n // 2),
    "encoded separators": lambda n: "%253A%3F" * (n // 8),
}


def _best_seconds(*texts: str, rounds: int = 5) -> list[float]:
    """The fastest of ``rounds`` scrubs of each text, the texts taken in turn, in this
    thread's CPU time: a loaded machine deschedules the test (wall time grew tenfold at a
    load of 8 on two cores) but cannot make the work itself cost more or less."""
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for index, text in enumerate(texts):
            started = time.thread_time()
            scrub_document({"t": text, "k": {text[:1000]: 1}})
            best[index] = min(best[index], time.thread_time() - started)
    return best


@pytest.mark.parametrize("make", list(_HOSTILE.values()), ids=list(_HOSTILE))
def test_hostile_text_is_scrubbed_in_linear_time(make):
    """Four times the text takes about four times as long, not sixteen; and 100 KB of it
    takes well under a few seconds. The bound on the ratio is loose (the machine is
    shared), the quadratic cases it guards against were 16x and more (a 9 MiB batch held
    a worker for 23 s); the absolute bound only catches a pattern gone badly wrong."""
    small, large = _best_seconds(make(25_000), make(100_000))
    assert large < 2.0, large
    assert large < 10 * max(small, 0.002), (small, large)


# -- Ingestion: nothing of it is stored in clear ------------------------------------------

_SECRETS = {
    "ticket": "password=Hunter22!",
    "aws": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "google": "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "gitlab": "glpat-Ab3dEf6hIj9kLm2nOp5q",
    "pem": "MIIEpAIBAAKCAQEA7bq3QsecretBodyLine",
    "connection": "s3cr3tDbPass",
    "slack": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "email": "josé@example.com",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "pw": "opensesame-under-pw",
    "key email": "frank@example.org",
    "said": "hunter22",
}


@pytest.mark.django_db
def test_an_ingested_log_stores_none_of_its_secrets_in_clear(api):
    """Secrets in the ticket text, the ReAct observations, under a secret key, as a key,
    and in the error message: none of them is in the stored row, document or columns."""
    document = log_document(
        trace={
            "ticket": {
                "description": f"I tried {_SECRETS['ticket']} and mailed {_SECRETS['email']}",
                "payment": f"card {_SECRETS['card']}, IBAN {_SECRETS['iban']}",
            },
            "react": {
                "iterations": [
                    {
                        "iteration": 1,
                        "observation": (
                            f"env: AWS {_SECRETS['aws']} STRIPE {_SECRETS['stripe']} "
                            f"maps {_SECRETS['google']} ci {_SECRETS['gitlab']}"
                        ),
                    },
                    {
                        "iteration": 2,
                        "observation": (
                            "-----BEGIN RSA PRIVATE KEY-----\n"
                            f"{_SECRETS['pem']}\n-----END RSA PRIVATE KEY-----"
                        ),
                    },
                ]
            },
            "config": {"pw": _SECRETS["pw"], "notify": _SECRETS["slack"]},
            "per_user": {_SECRETS["key email"]: 2},
        },
        error={
            "type": "DatabaseError",
            "node": "order_lookup",
            "message": (
                f"postgres://app:{_SECRETS['connection']}@db:5432/x refused; "
                f"the password is {_SECRETS['said']}"
            ),
        },
    )
    response = api.post("collector:log-ingest", document)
    assert response.status_code == 201, response.content
    row = WorkflowLog.objects.values().get()
    stored = json.dumps(row, default=str, ensure_ascii=False)
    for name, secret in _SECRETS.items():
        assert secret not in stored, name
    assert "password=[REDACTED]" in row["document"]["trace"]["ticket"]["description"]
    assert row["document"]["trace"]["per_user"] == {EMAIL_MASK: 2}
    assert row["error_message"] == (
        "postgres://app:[REDACTED]@db:5432/x refused; the password is [REDACTED]"
    )
    assert row["error_message"] == row["document"]["error"]["message"]
