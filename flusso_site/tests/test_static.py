"""Static files in production: compressed by collectstatic, served with a long cache.

collectstatic of the whole site takes minutes (Brotli on plotly.js's 4.8 MB), so the
serving chain is checked on a small script of our own with the production storage and
WhiteNoise; that plotly.js is among the files compressed follows from WhiteNoise
compressing every .js file (sizes measured in the README).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test import override_settings
from whitenoise.compress import Compressor

from flusso_site.settings import base

SCRIPT = "console.log('flusso');\n" * 400


@pytest.fixture
def collected(tmp_path: Path):
    source, root = tmp_path / "static", tmp_path / "collected"
    (source / "js").mkdir(parents=True)
    (source / "js" / "app.js").write_text(SCRIPT)
    with override_settings(
        STATICFILES_DIRS=[source],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STATIC_ROOT=root,
        # The storage the service uses whenever DEBUG is off (settings/base.py).
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": base.STORAGES["staticfiles"]["BACKEND"]},
        },
    ):
        call_command("collectstatic", "--no-input", verbosity=0)
        yield root


def test_production_storage_compresses_with_brotli_and_gzip():
    assert base.STORAGES["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )
    assert Compressor().use_brotli  # Brotli is installed (requirements.txt)
    assert Compressor().should_compress("vendor/plotly/plotly.min.js")


def test_collectstatic_writes_brotli_and_gzip_beside_each_hashed_script(collected):
    [hashed] = [p for p in (collected / "js").glob("app.*.js")]
    for suffix in (".br", ".gz"):
        compressed = hashed.with_name(hashed.name + suffix)
        assert compressed.stat().st_size < hashed.stat().st_size / 10


@pytest.mark.parametrize(("accept", "encoding"), [("br, gzip", "br"), ("gzip", "gzip")])
def test_whitenoise_serves_it_compressed_with_a_long_immutable_cache(collected, accept, encoding):
    [hashed] = [p.name for p in (collected / "js").glob("app.*.js")]
    response = HttpClient().get(f"/static/js/{hashed}", headers={"accept-encoding": accept})
    assert response.status_code == 200
    assert response["Content-Encoding"] == encoding
    cache = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"public", "immutable", "max-age=315360000"} <= cache
    assert "no-store" not in response["Cache-Control"]
    assert "camera=()" in response["Permissions-Policy"]
