"""Static files: hashed, compressed names served by whitenoise, and the few files that keep a stable URL.

Pages name their assets with `{% static %}`, which gives the hashed name (cached for a year). The live
chat widget's `livechat/widget.js` is embedded in other sites by its plain URL, so that URL stays: it is
served with a short cache and revalidation, and holds the current content with the hashed names of the
assets it loads substituted in (the `new URL("...", script.src)` expressions), so a visitor gets an
upgrade within minutes and never a stale stylesheet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.base import ContentFile
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Served under their plain names too, with the hashed content; cached briefly.
STABLE_NAMES = ("livechat/widget.js",)
STABLE_MAX_AGE = 300
_SCRIPT_RELATIVE_URL = r"""(?P<matched>new URL\("(?P<url>[^"]+)", script\.src\))"""


class StaticStorage(CompressedManifestStaticFilesStorage):
    # Django's own "*.js" pattern rewrites sourceMappingURL comments; vendored scripts (kpi/vendor) name
    # source maps they do not ship, which would fail collectstatic.
    patterns = (
        *(pattern for pattern in ManifestStaticFilesStorage.patterns if pattern[0] != "*.js"),
        ("*.js", ((_SCRIPT_RELATIVE_URL, 'new URL("%(url)s", script.src)'),)),
    )

    def post_process(self, paths: dict[str, Any], dry_run: bool = False, **options: Any) -> Iterator[Any]:
        yield from super().post_process(paths, dry_run=dry_run, **options)
        if dry_run:
            return
        for name in STABLE_NAMES:
            hashed = self.hashed_files.get(self.hash_key(self.clean_name(name)))
            if not hashed or hashed == name:
                continue
            with self.open(hashed) as source:
                content = source.read()
            for old in (name, f"{name}.gz", f"{name}.br"):
                with contextlib.suppress(FileNotFoundError):
                    self.delete(old)
            self._save(name, ContentFile(content))
            for original, compressed in self.compress_files([name]):
                yield original, compressed, True


def static_headers_add(headers: Any, path: str, url: str) -> None:
    """whitenoise hook: the stable names are revalidated after a few minutes (whitenoise adds an ETag)."""
    if any(url.endswith("/" + name) for name in STABLE_NAMES):
        headers["Cache-Control"] = f"public, max-age={STABLE_MAX_AGE}, must-revalidate"
