import uuid

import pytest
import redis

from collector.throttling import rate_parse

# A database of its own on the machine's Redis; only keys under the test's prefix are touched.
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("6000/minute", (6000, 60)), ("10/s", (10, 1)), ("5/hour", (5, 3600)), ("1/day", (1, 86400))],
)
def test_rate_parse(rate, parsed):
    assert rate_parse(rate) == parsed


@pytest.mark.parametrize("rate", ["fast", "10/fortnight", "x/minute"])
def test_a_malformed_rate_is_a_configuration_error(rate):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        rate_parse(rate)


@pytest.fixture
def redis_cache(settings):
    """The cache REDIS_URL selects, under a prefix of this test's own."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield prefix
    raw = redis.Redis.from_url(REDIS_URL)
    for key in raw.scan_iter(f"{prefix}:*"):
        raw.delete(key)


@pytest.mark.django_db
def test_with_redis_the_limit_is_counted_where_every_worker_sees_it(
    api, api_key, redis_cache, settings
):
    settings.INGEST_RATE_LIMIT = "2/minute"
    assert [api.get("collector:whoami").status_code for _ in range(3)] == [200, 200, 429]
    raw = redis.Redis.from_url(REDIS_URL)
    [key] = list(raw.scan_iter(f"{redis_cache}:*throttle:apikey:{api_key.prefix}:*"))
    # The count lives in Redis, not in this process: another worker reads 3 and refuses too.
    assert int(raw.get(key)) == 3
    raw.delete(key)
    assert api.get("collector:whoami").status_code == 200
