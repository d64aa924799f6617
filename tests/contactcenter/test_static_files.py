"""Static files as a production deployment serves them: collected with hashed, compressed names, served by
whitenoise in the web process; the embeddable widget keeps its URL with a short, revalidated cache."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from contactcenter.staticfiles import STABLE_MAX_AGE

pytestmark = pytest.mark.django_db

HASHED = {"BACKEND": "contactcenter.staticfiles.StaticStorage"}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("staticfiles")
    storages = {**settings.STORAGES, "staticfiles": HASHED}
    with override_settings(STATIC_ROOT=str(root), STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


@pytest.fixture
def production_static(collected):
    """What a web process with DEBUG off sees: only STATIC_ROOT, read once at start."""
    storages = {**settings.STORAGES, "staticfiles": HASHED}
    with override_settings(
        STATIC_ROOT=str(collected),
        STORAGES=storages,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        yield collected


def manifest(root) -> dict[str, str]:
    return json.loads((root / "staticfiles.json").read_text())["paths"]


def test_the_stable_widget_holds_the_hashed_stylesheet_name(collected):
    paths = manifest(collected)
    hashed_css = paths["livechat/widget.css"]
    assert re.fullmatch(r"livechat/widget\.[0-9a-f]{12}\.css", hashed_css)
    stable = (collected / "livechat/widget.js").read_text()
    assert f'new URL("{hashed_css.split("/")[-1]}", script.src)' in stable
    assert stable == (collected / paths["livechat/widget.js"]).read_text()
    assert gzip.decompress((collected / "livechat/widget.js.gz").read_bytes()).decode() == stable


def test_widget_js_keeps_its_url_with_a_short_revalidated_cache(production_static):
    client = Client()
    response = client.get("/static/livechat/widget.js")
    assert response.status_code == 200
    assert response["Cache-Control"] == f"public, max-age={STABLE_MAX_AGE}, must-revalidate"
    etag = response["ETag"]
    assert b"script.src" in b"".join(response.streaming_content)
    again = client.get("/static/livechat/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    compressed = client.get("/static/livechat/widget.js", headers={"Accept-Encoding": "gzip"})
    assert compressed["Content-Encoding"] == "gzip"


def test_pages_name_hashed_assets_cached_for_good(production_static):
    client = Client()
    page = client.get("/livechat/demo/").content.decode()
    hashed_css = manifest(production_static)["livechat/demo.css"]
    assert f"/static/{hashed_css}" in page
    response = client.get(f"/static/{hashed_css}")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]


def test_the_embed_code_on_the_demo_page_names_the_stable_widget_url(production_static):
    from contactcenter.services.demo import demo_data_load

    demo_data_load(password="demo-pass-1234", history=False)
    page = Client().get("/livechat/demo/").content.decode()
    embed = re.search(r'&lt;script src="([^"]+)"', page).group(1)
    assert embed == "http://testserver/static/livechat/widget.js"
    hashed_widget = manifest(production_static)["livechat/widget.js"]
    assert f'<script src="/static/{hashed_widget}"' in page


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
def test_with_debug_on_the_sources_are_served_without_collectstatic():
    response = Client().get("/static/livechat/widget.js")
    assert response.status_code == 200
    assert response["Cache-Control"] == f"public, max-age={STABLE_MAX_AGE}, must-revalidate"
    assert b'new URL("widget.css", script.src)' in b"".join(response.streaming_content)
