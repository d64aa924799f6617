"""Idle websocket capacity: how many open widget sockets the servers hold, and the memory each costs.

    python bench/idle_sockets.py --mode embedded --sockets 10000
    python bench/idle_sockets.py --mode scaled   --sockets 10000 --web-processes 2

Builds a fresh database (embedded: SQLite in a new DATA_DIR; scaled: PostgreSQL `h_load_bench` + Redis
db 11, dropped/flushed at the end), starts the real servers (embedded: one `serve`; scaled: 2 x
`serve --web-only` + `runtimers` + `qcluster`) with the open-files limit raised to the hard limit and the
widget's abuse limits lifted (bench/cluster.server_env). Then `--client-procs` client processes each
create their share of visitor sessions over HTTP (`POST /livechat/<code>/session/`) and open the widget
socket (`/ws/livechat/<code>/?token=...`, waiting for its `hello`), spread round-robin over the web
processes. Memory: VmRSS of every server process including its children (/proc/<pid>/status), read
after a warm-up of `--warmup` sockets opened and closed (before) and again with all sockets open and
`--hold` seconds idle (after); per connection = (after - before) / sockets. At the end every socket
sends the widget's `ping` and must get its `pong` (proof they are still open), then all close.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import loadkit


def client_proc(conn: Connection, bases: list[str], count: int, offset: int, concurrency: int) -> None:
    loadkit.raise_nofile()
    asyncio.run(_client_main(conn, bases, count, offset, concurrency))


async def _client_main(conn: Connection, bases: list[str], count: int, offset: int, concurrency: int) -> None:
    import httpx

    counters = loadkit.Counters()
    widgets = [loadkit.Widget(bases[(offset + n) % len(bases)], counters) for n in range(count)]
    semaphore = asyncio.Semaphore(concurrency)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:

        async def one(widget: loadkit.Widget) -> None:
            async with semaphore:
                try:
                    await widget.open(http, read=False)
                except Exception as error:  # counted and reported, the run goes on
                    failures.append(f"{type(error).__name__}: {error}"[:200])

        await asyncio.gather(*(one(w) for w in widgets))
    opened = [w for w in widgets if w.ws is not None]
    conn.send(
        {
            "opened": len(opened),
            "failures": len(failures),
            "failure_samples": failures[:3],
            "retries": counters.connect_retries,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "check"

    async def ping(widget: loadkit.Widget) -> bool:
        async with semaphore:
            try:
                await widget.send({"type": "ping"})
                while True:
                    frame = json.loads(await asyncio.wait_for(widget.ws.recv(), timeout=30))
                    if frame.get("type") == "pong":
                        return True
            except Exception as error:
                close = getattr(widget.ws, "close_code", None)
                ping_failures.append(f"{type(error).__name__}: {error} (close code {close})"[:200])
                return False

    ping_failures: list[str] = []
    results = await asyncio.gather(*(ping(w) for w in opened))
    conn.send({"pong": sum(results), "failures": ping_failures[:3]})
    await loop.run_in_executor(None, conn.recv)  # "close"
    await asyncio.gather(*(w.close() for w in opened))
    conn.send({"closed": True})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--sockets", type=int, default=10000)
    parser.add_argument("--web-processes", type=int, default=2, help="scaled mode: ASGI processes")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes holding the sockets")
    parser.add_argument("--concurrency", type=int, default=20, help="opening handshakes in flight per client")
    parser.add_argument("--warmup", type=int, default=50, help="sockets opened and closed before 'before'")
    parser.add_argument("--hold", type=float, default=30, help="idle seconds with all sockets open")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server logs)")
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the web processes' allocations and print where the per-socket memory goes (slower)",
    )
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    nofile = loadkit.raise_nofile()
    command = "python bench/idle_sockets.py " + " ".join(sys.argv[1:])
    extra_env = {}
    if args.tracemalloc:
        trace_dir = tempfile.mkdtemp(prefix="memtrace-")
        extra_env = {"PYTHONPATH": str(Path(__file__).parent / "memtrace"), "MEMTRACE_DIR": trace_dir}
    dep = loadkit.deploy(mode=args.mode, agents=1, web_processes=args.web_processes, extra_env=extra_env)
    workers: list[tuple[Any, Connection]] = []
    try:
        bases = [f"http://127.0.0.1:{p}" for p in dep.ports]
        # Warm-up: import paths, thread pools and connection pools exist before "before" is read.
        asyncio.run(_warmup(bases, args.warmup))
        time.sleep(3)
        before = dep.rss()
        if args.tracemalloc:
            snap_before = _snapshots(dep, trace_dir)
        ctx = mp.get_context("spawn")
        share = [
            args.sockets // args.client_procs + (n < args.sockets % args.client_procs)
            for n in range(args.client_procs)
        ]
        offset = 0
        started = time.monotonic()
        for count in share:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=client_proc, args=(child, bases, count, offset, args.concurrency))
            proc.start()
            workers.append((proc, parent))
            offset += count
        opened = [conn.recv() for _proc, conn in workers]
        open_seconds = time.monotonic() - started
        dep.procs.check_alive()
        print(f"{sum(o['opened'] for o in opened)} sockets open in {open_seconds:.0f} s; holding", flush=True)
        time.sleep(args.hold)
        after = dep.rss()
        if args.tracemalloc:
            snap_after = _snapshots(dep, trace_dir)
        for _proc, conn in workers:
            conn.send("check")
        pinged = [conn.recv() for _proc, conn in workers]
        pongs = sum(p["pong"] for p in pinged)
        after_ping = dep.rss()
        for _proc, conn in workers:
            conn.send("close")
        for _proc, conn in workers:
            conn.recv()
        web = [name for name in before if name.startswith("web")]
        total_open = sum(o["opened"] for o in opened)

        def mib(kib: int) -> float:
            return round(kib / 1024, 1)

        web_before = sum(before[n] for n in web)
        web_after = sum(after[n] for n in web)
        result = {
            "bench": "idle_sockets",
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": loadkit.load_average(),
            "mode": args.mode,
            "web_processes": len(dep.ports),
            "open_files_limit": nofile,
            "sockets_requested": args.sockets,
            "sockets_open": total_open,
            "open_failures": sum(o["failures"] for o in opened),
            "failure_samples": [s for o in opened for s in o["failure_samples"]][:5],
            "handshake_retries": sum(o["retries"] for o in opened),
            "open_seconds": round(open_seconds, 1),
            "opened_per_s": round(total_open / open_seconds, 1),
            "pong_after_hold": pongs,
            "ping_failure_samples": [f for p in pinged for f in p["failures"]][:5],
            "rss_mib_before": {k: mib(v) for k, v in before.items()},
            "rss_mib_after": {k: mib(v) for k, v in after.items()},
            "rss_mib_after_ping": {k: mib(v) for k, v in after_ping.items()},
            "web_rss_mib_before": mib(web_before),
            "web_rss_mib_after": mib(web_after),
            "all_servers_rss_mib_after": mib(sum(after.values())),
            "kib_per_connection": round((web_after - web_before) / max(1, total_open), 1),
        }
        if args.tracemalloc:
            result["tracemalloc_top"] = _compare(snap_before, snap_after, max(1, total_open))
        dep.procs.check_alive()
        print(json.dumps(result, indent=2))
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        for proc, _conn in workers:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)
        loadkit.teardown(dep, keep=args.keep)


def _snapshots(dep: loadkit.Deployment, trace_dir: str) -> list[Path]:
    """Ask each web process for a tracemalloc snapshot; the files, once written."""
    paths = []
    for proc in dep.web:
        os.kill(proc.pid, signal.SIGUSR2)
    for proc in dep.web:
        done = sorted(Path(trace_dir).glob(f"{proc.pid}-*.done"))
        deadline = time.monotonic() + 120
        count = len(done)
        while (
            count == len(sorted(Path(trace_dir).glob(f"{proc.pid}-*.done"))) and time.monotonic() < deadline
        ):
            time.sleep(0.5)
        paths.append(Path(trace_dir) / f"{proc.pid}-{count + 1}.snap")
    return paths


def _compare(before: list[Path], after: list[Path], sockets: int) -> list[str]:
    """The allocation sites that grew most, summed over the web processes, in bytes per socket."""
    import tracemalloc

    grown: dict[str, int] = {}
    traced = 0
    for old, new in zip(before, after, strict=True):
        snap_old, snap_new = tracemalloc.Snapshot.load(str(old)), tracemalloc.Snapshot.load(str(new))
        traced += sum(s.size for s in snap_new.statistics("filename")) - sum(
            s.size for s in snap_old.statistics("filename")
        )
        for diff in snap_new.compare_to(snap_old, "lineno"):
            frame = diff.traceback[0]
            key = f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
            grown[key] = grown.get(key, 0) + diff.size_diff
    top = sorted(grown.items(), key=lambda kv: -kv[1])[:25]
    return [f"python heap total {traced / sockets:.0f} B/socket"] + [
        f"{size / sockets:8.0f} B/socket  {where}" for where, size in top
    ]


async def _warmup(bases: list[str], count: int) -> None:
    import httpx

    counters = loadkit.Counters()
    widgets = [loadkit.Widget(bases[n % len(bases)], counters) for n in range(count)]
    async with httpx.AsyncClient(timeout=60) as http:
        for widget in widgets:
            await widget.open(http, read=False)
    for widget in widgets:
        await widget.close()


if __name__ == "__main__":
    main()
