"""`manage.py runtimers`: the deadline loop as its own process (scaled mode; several may run)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from contactcenter.timers import timers_loop


class Command(BaseCommand):
    help = "Apply due deadlines (forwarding, auto-close, KPI alerts...) in a loop until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write("Timer loop running; stop with Ctrl-C.")
        await timers_loop(stop)
