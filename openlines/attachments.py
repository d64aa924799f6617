"""Files attached to messages by URL: the one rule for what the APIs accept and how messages store them.

Stored shape: `{"kind": "file", "url": "https://...", "name": "spec.pdf"}` (buttons of bots are
`{"kind": "buttons", ...}`, see openlines.services.bots).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _

MAX_FILES = 10
MAX_URL_LENGTH = 1000
MAX_NAME_LENGTH = 255

_url = URLValidator(schemes=["http", "https"])


def files_from_json(raw: Any, *, path: str) -> list[dict[str, Any]]:
    """`[{"url": ..., "name"?: ...}]` as stored attachments; errors are keyed by their path under `path`
    (`files[1].url`). None is no files."""
    shape = _('Enter a list of files as {"url": "https://...", "name": "file.pdf"}.')
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError({path: [shape]})
    if len(raw) > MAX_FILES:
        raise ValidationError({path: [_("At most %(n)d files.") % {"n": MAX_FILES}]})
    errors: dict[str, list[str]] = {}
    files = []
    for index, item in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(item, dict) or set(item) - {"url", "name"}:
            errors[here] = [shape]
            continue
        url, name = item.get("url"), item.get("name", "")
        try:
            if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
                raise ValidationError("")
            _url(url)
        except ValidationError:
            errors[f"{here}.url"] = [
                _("Enter a valid http(s) URL of at most %(n)d characters.") % {"n": MAX_URL_LENGTH}
            ]
            continue
        if name is None:
            name = ""
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            errors[f"{here}.name"] = [
                _("Enter a file name of at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}
            ]
            continue
        files.append({"kind": "file", "url": url, "name": name.strip() or url.rstrip("/").rsplit("/", 1)[-1]})
    if errors:
        raise ValidationError(errors)
    return files
