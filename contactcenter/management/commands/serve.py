"""`manage.py serve`: the whole product in one command.

Applies migrations (unless `--no-migrate`), loads demo data into an empty database, starts the daphne ASGI
server and the background machinery the runtime mode needs, and stops all of it on Ctrl-C or SIGTERM:
- embedded mode (no REDIS_URL): the timer loop and the task runner run inside this process;
- scaled mode: the timer loop runs here and a `qcluster` child process runs the tasks, unless
  `--web-only` is given (then run `manage.py runtimers` and `manage.py qcluster` separately).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from contactcenter.services.demo import database_is_empty, demo_data_load


class Command(BaseCommand):
    help = "Start the contact center: web server, websockets, timers and background tasks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load demo data into an empty database."
        )
        parser.add_argument(
            "--no-migrate",
            action="store_true",
            help=(
                "Do not apply migrations at start: with several processes, run `manage.py migrate` once "
                "per release instead (until then /healthz answers 503)."
            ),
        )
        parser.add_argument(
            "--web-only",
            action="store_true",
            help=(
                "Serve HTTP and websockets only; timers and tasks run in their own processes "
                "(needs REDIS_URL)."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        web_only: bool = options["web_only"]
        if web_only and not settings.SCALED_MODE:
            raise CommandError(
                "--web-only needs REDIS_URL: without Redis, timers and tasks must run in the web process."
            )
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        self._load_demo(skip=options["no_demo"])
        host, port = options["host"], options["port"]
        self._run_server(host=host, port=port, web_only=web_only)

    def _load_demo(self, *, skip: bool) -> None:
        if skip or not database_is_empty():
            return
        password = settings.DEMO_PASSWORD or None
        logins = demo_data_load(password=password)
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Logins (all with the same password):"))
        self.stdout.write("  users:    " + ", ".join(logins.usernames))
        if password:
            self.stdout.write("  password: the value of DEMO_PASSWORD")
        else:
            self.stdout.write(f"  password: {logins.password}   (shown only now)")

    def _site_address(self, *, host: str, port: int) -> str:
        """The address this server answers at; links in notifications use it unless SITE_URL is set."""
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        if ":" in shown_host:
            shown_host = f"[{shown_host}]"
        address = f"http://{shown_host}:{port}"
        if not settings.SITE_URL_SET:
            settings.SITE_URL = address
            # The task cluster child inherits it.
            os.environ["SITE_URL"] = address
        return address

    def _banner_links(self, address: str) -> list[tuple[str, str]]:
        return [
            ("workspace:", address + reverse("agent:workspace")),
            ("demo page:", address + reverse("livechat:demo")),
            ("chat list:", address + reverse("kpi:chat_list")),
            ("reports:", address + reverse("kpi:reports")),
            ("admin:", address + reverse("admin:index")),
        ]

    def _run_server(self, *, host: str, port: int, web_only: bool) -> None:
        # Importing daphne.server installs the asyncio Twisted reactor; it must come before any other
        # Twisted import.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import defer
        from twisted.internet import reactor as twisted_reactor

        from contactcenter.asgi import application
        from contactcenter.background import embedded_task_runner
        from contactcenter.timers import timers_loop

        reactor: Any = twisted_reactor
        address = self._site_address(host=host, port=port)
        listening: list[bool] = []
        stop = asyncio.Event()
        background: list[asyncio.Task[None]] = []
        qcluster: subprocess.Popen[bytes] | None = None

        def start_background() -> None:
            nonlocal qcluster
            loop: asyncio.AbstractEventLoop = reactor._asyncioEventloop
            if not web_only:
                background.append(loop.create_task(timers_loop(stop)))
                if settings.SCALED_MODE:
                    qcluster = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
                        [sys.executable, sys.argv[0], "qcluster"], env=os.environ.copy()
                    )
                else:
                    background.append(loop.create_task(embedded_task_runner(stop)))
            listening.append(True)
            mode = "scaled (PostgreSQL/Redis)" if settings.SCALED_MODE else "embedded (SQLite, in-process)"
            self.stdout.write(self.style.SUCCESS(f"Contact center running at {address}/"))
            self.stdout.write(f"  mode: {mode}")
            for label, url in self._banner_links(address):
                self.stdout.write(f"  {label:<11} {url}")
            self.stdout.write("  stop with Ctrl-C")
            self.stdout.flush()

        async def stop_background() -> None:
            stop.set()
            if background:
                await asyncio.wait(background, timeout=10)

        def before_shutdown() -> defer.Deferred[None]:
            return defer.Deferred.fromFuture(asyncio.ensure_future(stop_background()))

        reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            ready_callable=start_background,
            verbosity=0,
        )
        try:
            server.run()
            if not listening:
                # daphne logs the listen failure and stops its reactor normally; a service manager or a
                # script must see the failure.
                raise CommandError(f"Could not listen on {host}:{port} (is another server using the port?)")
        finally:
            if qcluster is not None and qcluster.poll() is None:
                qcluster.send_signal(signal.SIGTERM)
                try:
                    qcluster.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    qcluster.kill()
            self.stdout.write("Contact center stopped.")
