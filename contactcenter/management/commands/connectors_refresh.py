"""`manage.py connectors_refresh`: register every connected channel's webhook again with the current public
URL (after the site's domain or `CONNECTORS_PUBLIC_URL` changed). Safe to run twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contactcenter.models import Connector
from contactcenter.services.provisioning import connectors_refresh


class Command(BaseCommand):
    help = (
        "Re-register the webhook of every connected messenger channel with the current public URL "
        "(CONNECTORS_PUBLIC_URL, else SITE_URL) and report per channel: ok, failed (with the platform's "
        "reason) or skipped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = settings.CONNECTORS_PUBLIC_URL or settings.SITE_URL
        connectors = Connector.objects.select_related("line").order_by("kind", "id")
        outcomes = connectors_refresh(connectors=connectors, base_url=base_url)
        for outcome in outcomes:
            connector = outcome.connector
            line = f"{outcome.status:8} {connector.get_kind_display()} “{connector.name}” #{connector.pk}"
            line += f" (line “{connector.line}”)"
            if outcome.detail:
                line += f": {outcome.detail}"
            style = {"ok": self.style.SUCCESS, "failed": self.style.ERROR}.get(outcome.status, str)
            self.stdout.write(style(line))
        failed = sum(1 for o in outcomes if o.status == "failed")
        done = sum(1 for o in outcomes if o.status == "ok")
        skipped = len(outcomes) - failed - done
        self.stdout.write(f"{done} re-registered, {failed} failed, {skipped} skipped.")
        if failed:
            raise CommandError(f"{failed} channel(s) could not be re-registered; see above.")
