from collector.keys import key_generate, key_parse, secret_hash, secret_matches


def test_generated_key_has_scanner_friendly_format_and_parses_back():
    raw, prefix, hashed = key_generate()
    assert raw.startswith(f"flk_{prefix}_")
    parsed = key_parse(raw)
    assert parsed is not None and parsed.prefix == prefix
    # 32 random bytes, url-safe base64: 43 characters.
    assert len(parsed.secret) >= 43
    assert secret_matches(parsed.secret, hashed)
    assert hashed == secret_hash(parsed.secret) and parsed.secret not in hashed


def test_generated_keys_are_unique():
    assert len({key_generate()[0] for _ in range(200)}) == 200


def test_foreign_or_malformed_keys_do_not_parse():
    for raw in ["", "flk_", "sk-abc", "flk_xyz_secret", "flk_0123456789ab_", "abc_0123456789ab_s"]:
        assert key_parse(raw) is None, raw


def test_wrong_secret_does_not_match():
    _, _, hashed = key_generate()
    assert not secret_matches("not-the-secret", hashed)
