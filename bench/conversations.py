"""Conversations per day at a realistic mix: complete live chat conversations driven at increasing rates.

    python bench/conversations.py --mode scaled --rates 0.5,1,2 --stage-seconds 60 --agents 50
    python bench/conversations.py --mode embedded --concurrent 50 --agents 10     # 50 at the same time

One conversation (the mix):
  1. the visitor's widget gets a token over HTTP (`POST /livechat/<code>/session/`) and opens its socket;
  2. the visitor writes; the line (queue "evenly", ratings on) offers the new conversation to one agent,
     whose staff socket receives `offer.new`; the agent opens it (`GET .../messages/` over HTTP) and
     takes it (`POST .../answer/`);
  3. four rounds: the agent answers over HTTP (`POST .../messages/`), the visitor's socket receives the
     answer, the visitor writes again, the agent's socket receives it (the first round answers step 2);
  4. the agent closes it (`POST .../close/`), the visitor receives `rating.requested` and rates
     (`{"type": "rate", "vote": "like"}`), the agent's socket receives `rating.received`; the widget
     closes. That is 4 visitor messages + 4 agent answers + a close + a rating, with `--think` seconds
     of think time before each step.
The timer process and the task worker run as in production (scaled: `runtimers` + `qcluster` beside two
`serve --web-only`; embedded: inside `serve`). Agents' sockets and HTTP calls and the widgets are spread
over the web processes round-robin.

Rate mode (`--rates`): for each rate, new conversations start at that steady rate for `--stage-seconds`,
then the stage waits for all of them to finish. A stage is "sustained" when every conversation completes
without an error, the p99 of every delivery (visitor -> agent socket, agent HTTP -> visitor socket) stays
under `--p99-limit-ms`, and the p99 of the last third of the stage is not more than twice that of the
first third or 250 ms, whichever is higher (nothing queues up). Concurrent mode (`--concurrent N`):
N conversations at the same time (the embedded SQLite check: "database is locked" is counted in error
frames, HTTP errors and the server logs). Prints one JSON object with the command, date and load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

try:
    import loadkit
except ImportError:  # imported as bench.conversations by the tests
    from bench import loadkit

ROUNDS = 4
# A last-third p99 under this is never called "rising": at ~100 ms one busy second doubles the tail.
RISING_FLOOR_MS = 250


@dataclass
class Stage:
    label: str
    latencies: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # kind -> (at, ms)
    started: int = 0
    completed: int = 0
    failures: list[str] = field(default_factory=list)
    conversation_seconds: list[float] = field(default_factory=list)
    start_lag: list[float] = field(default_factory=list)

    def note(self, kind: str, since: float) -> None:
        now = time.monotonic()
        self.latencies.setdefault(kind, []).append((now, (now - since) * 1000))


class Harness:
    def __init__(self, bases: list[str], setup: dict[str, Any], think: float, timeout: float) -> None:
        self.bases = bases
        self.think = think
        self.timeout = timeout
        self.counters = loadkit.Counters()
        self.agents = [
            loadkit.Agent(bases[n % len(bases)], setup["cookie"], key, setup["csrf_cookie"], self.counters)
            for n, key in enumerate(setup["session_keys"])
        ]
        self.waiting: dict[str, asyncio.Future[tuple[loadkit.Agent, int, float]]] = {}
        self.next_widget = 0
        self.http: Any = None

    async def open(self) -> None:
        import httpx

        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200))
        await asyncio.gather(*(a.open(self._on_offer) for a in self.agents))

    async def close(self) -> None:
        await asyncio.gather(*(a.close() for a in self.agents))
        await self.http.aclose()

    def _on_offer(self, session_id: int, agent: loadkit.Agent) -> None:
        received = time.monotonic()
        asyncio.get_running_loop().create_task(self._claim(session_id, agent, received))

    async def _claim(self, session_id: int, agent: loadkit.Agent, received: float) -> None:
        """The agent opens the offered conversation and finds which visitor it is (by the first text)."""
        try:
            page = await agent.api("GET", f"/agent/api/sessions/{session_id}/messages/")
        except RuntimeError:
            return
        for message in page.get("messages", []):
            tag = str(message.get("text", "")).split(" ")[0]
            future = self.waiting.get(tag)
            if future is not None and not future.done():
                future.set_result((agent, session_id, received))
                return

    async def conversation(self, stage: Stage, planned: float) -> None:
        stage.started += 1
        stage.start_lag.append(time.monotonic() - planned)
        tag = f"c{uuid.uuid4().hex[:12]}"
        began = time.monotonic()
        base = self.bases[self.next_widget % len(self.bases)]
        self.next_widget += 1
        widget = loadkit.Widget(base, self.counters)
        step = "open"
        try:
            await widget.open(self.http)
            self.waiting[tag] = asyncio.get_running_loop().create_future()
            step = "first message"
            sent = time.monotonic()
            await widget.send({"type": "message", "client_id": uuid.uuid4().hex, "text": f"{tag} hello"})
            agent, session_id, offered_at = await asyncio.wait_for(self.waiting[tag], self.timeout)
            stage.latencies.setdefault("offer", []).append((offered_at, (offered_at - sent) * 1000))
            events = agent.queue(session_id)
            step = "answer"
            await asyncio.sleep(self.think)
            t = time.monotonic()
            await agent.api("POST", f"/agent/api/sessions/{session_id}/answer/")
            stage.note("http_answer", t)
            for n in range(ROUNDS):
                step = f"agent answer {n}"
                await asyncio.sleep(self.think)
                text = f"{tag} a{n}"
                t = time.monotonic()
                await agent.api("POST", f"/agent/api/sessions/{session_id}/messages/", {"text": text})
                stage.note("http_agent_message", t)
                await widget.wait_for(
                    lambda e, text=text: e.get("type") == "message.new" and e["message"].get("text") == text,
                    self.timeout,
                )
                stage.note("agent_to_visitor", t)
                if n == ROUNDS - 1:
                    break
                step = f"visitor message {n + 1}"
                await asyncio.sleep(self.think)
                text = f"{tag} q{n + 1}"
                t = time.monotonic()
                await widget.send({"type": "message", "client_id": uuid.uuid4().hex, "text": text})
                await _wait_queue(
                    events,
                    lambda e, text=text: (
                        e.get("type") == "message.new" and (e.get("message") or {}).get("text") == text
                    ),
                    self.timeout,
                )
                stage.note("visitor_to_agent", t)
            step = "close"
            await asyncio.sleep(self.think)
            t = time.monotonic()
            await agent.api("POST", f"/agent/api/sessions/{session_id}/close/", {"confirmed": True})
            stage.note("http_close", t)
            await widget.wait_for(lambda e: e.get("type") == "rating.requested", self.timeout)
            stage.note("close_to_rating_request", t)
            step = "rate"
            await asyncio.sleep(self.think)
            t = time.monotonic()
            await widget.send({"type": "rate", "vote": "like"})
            await _wait_queue(events, lambda e: e.get("type") == "rating.received", self.timeout)
            stage.note("rating_to_agent", t)
            stage.completed += 1
            stage.conversation_seconds.append(time.monotonic() - began)
        except Exception as error:  # counted per stage; the run goes on
            stage.failures.append(f"{step}: {type(error).__name__}: {error}"[:300])
        finally:
            self.waiting.pop(tag, None)
            await widget.close()


async def _wait_queue(queue: asyncio.Queue[dict[str, Any]], match: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(queue.get(), timeout=max(0.01, deadline - time.monotonic()))
        if match(event):
            return event


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))], 1)


class CpuMeter:
    """Busy share of all CPUs (from /proc/stat) and CPU seconds per server process over a stage."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = self._read()

    @staticmethod
    def _machine() -> tuple[int, int]:
        fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def _procs(self) -> dict[str, float]:
        tick = os.sysconf("SC_CLK_TCK")
        out = {}
        for name, pid in self.pids.items():
            total = 0.0
            for p in loadkit.tree_pids(pid):
                with contextlib.suppress(OSError):
                    parts = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                    total += (int(parts[11]) + int(parts[12])) / tick
            out[name] = total
        return out

    def _read(self) -> tuple[tuple[int, int], dict[str, float], float]:
        return self._machine(), self._procs(), time.monotonic()

    def result(self) -> dict[str, Any]:
        (busy0, all0), procs0, t0 = self.start
        (busy1, all1), procs1, t1 = self._read()
        seconds = t1 - t0
        return {
            "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, all1 - all0), 1),
            "cpu_cores_used": {n: round((procs1[n] - procs0.get(n, 0)) / seconds, 2) for n in procs1},
        }


def stage_summary(stage: Stage, duration: float, p99_limit: float) -> dict[str, Any]:
    per_kind = {}
    worst_p99 = 0.0
    trend_ok = True
    for kind, samples in sorted(stage.latencies.items()):
        values = [ms for _at, ms in samples]
        ordered = sorted(samples)
        third = max(1, len(ordered) // 3)
        first = _pct([ms for _at, ms in ordered[:third]], 99) or 0
        last = _pct([ms for _at, ms in ordered[-third:]], 99) or 0
        p99 = _pct(values, 99) or 0
        if not kind.startswith("http_"):
            worst_p99 = max(worst_p99, p99)
            if len(ordered) >= 9 and last > 2 * max(first, RISING_FLOOR_MS):
                trend_ok = False
        per_kind[kind] = {
            "n": len(values),
            "p50_ms": _pct(values, 50),
            "p95_ms": _pct(values, 95),
            "p99_ms": p99,
            "max_ms": round(max(values), 1),
            "p99_first_third_ms": first,
            "p99_last_third_ms": last,
        }
    sustained = (
        stage.completed == stage.started and not stage.failures and worst_p99 <= p99_limit and trend_ok
    )
    return {
        "stage": stage.label,
        "started": stage.started,
        "completed": stage.completed,
        "failed": len(stage.failures),
        "failure_samples": stage.failures[:5],
        "seconds": round(duration, 1),
        "conversations_per_s": round(stage.completed / duration, 2) if duration else None,
        "conversation_seconds_p50": _pct(stage.conversation_seconds, 50),
        "conversation_seconds_p99": _pct(stage.conversation_seconds, 99),
        "start_lag_max_s": round(max(stage.start_lag), 2) if stage.start_lag else None,
        "worst_delivery_p99_ms": worst_p99,
        "latency_rising": not trend_ok,
        "sustained": sustained,
        "latency": per_kind,
    }


async def run_rate(harness: Harness, rate: float, seconds: float, drain: float) -> Stage:
    stage = Stage(label=f"{rate:g}/s")
    count = max(1, round(rate * seconds))
    t0 = time.monotonic() + 0.2
    tasks = []
    for k in range(count):
        planned = t0 + k / rate
        delay = planned - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(harness.conversation(stage, planned)))
    await asyncio.wait(tasks, timeout=drain)
    return stage


async def run_concurrent(harness: Harness, count: int, drain: float) -> Stage:
    stage = Stage(label=f"{count} concurrent")
    now = time.monotonic()
    tasks = [asyncio.create_task(harness.conversation(stage, now)) for _ in range(count)]
    await asyncio.wait(tasks, timeout=drain)
    return stage


def start_profilers(dep: loadkit.Deployment, seconds: float) -> list[Any]:
    """py-spy (raw collapsed stacks, idle frames left out) on every server process, in the data dir."""
    import subprocess

    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    procs = []
    for name, proc in dep.procs.procs:
        out = dep.data_dir / f"profile-{name}.txt"
        command = [spy, "record", "-p", str(proc.pid), "-d", str(int(seconds)), "-f", "raw", "-o", str(out)]
        procs.append(
            subprocess.Popen(
                [*command, "--nonblocking", "--subprocesses"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


async def drive(
    args: argparse.Namespace, dep: loadkit.Deployment, spies: list[Any] | None = None
) -> tuple[list[dict[str, Any]], loadkit.Counters]:
    bases = [f"http://127.0.0.1:{p}" for p in dep.ports]
    harness = Harness(bases, dep.setup, args.think, args.timeout)
    await harness.open()
    pids = {name: p.pid for name, p in dep.procs.procs}
    stages = []
    spies = spies if spies is not None else []
    try:
        if args.concurrent:
            meter = CpuMeter(pids)
            t = time.monotonic()
            stage = await run_concurrent(harness, args.concurrent, args.drain)
            summary = stage_summary(stage, time.monotonic() - t, args.p99_limit_ms)
            summary.update(meter.result())
            stages.append(summary)
        else:
            for rate in args.rates:
                if args.profile and rate == args.profile_rate:
                    spies += start_profilers(dep, args.profile)
                meter = CpuMeter(pids)
                t = time.monotonic()
                stage = await run_rate(harness, rate, args.stage_seconds, args.drain)
                summary = stage_summary(stage, time.monotonic() - t, args.p99_limit_ms)
                summary.update(meter.result())
                summary["offered_per_s"] = rate
                stages.append(summary)
                print(
                    json.dumps(
                        {
                            k: summary[k]
                            for k in (
                                "stage",
                                "started",
                                "completed",
                                "failed",
                                "worst_delivery_p99_ms",
                                "sustained",
                                "machine_busy_pct",
                            )
                        }
                    ),
                    flush=True,
                )
                dep.procs.check_alive()
                if not summary["sustained"] and args.stop_at_first_failure:
                    break
    finally:
        await harness.close()
    return stages, harness.counters


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="scaled")
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--web-processes", type=int, default=2, help="scaled mode: ASGI processes")
    parser.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.5, 1, 2],
        help="new conversations per second, one stage each (comma-separated)",
    )
    parser.add_argument("--stage-seconds", type=float, default=60, help="seconds each rate runs")
    parser.add_argument("--concurrent", type=int, default=0, help="instead: this many at the same time")
    parser.add_argument("--think", type=float, default=1.0, help="seconds before each step")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one step may take")
    parser.add_argument("--drain", type=float, default=180, help="seconds a stage waits for stragglers")
    parser.add_argument("--p99-limit-ms", type=float, default=1000)
    parser.add_argument("--stop-at-first-failure", action="store_true")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="py-spy every server process for this many seconds from the start of --profile-rate's stage",
    )
    parser.add_argument("--profile-rate", type=float, default=0, help="the stage to profile")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server logs)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    command = "python bench/conversations.py " + " ".join(sys.argv[1:])
    dep = loadkit.deploy(mode=args.mode, agents=args.agents, web_processes=args.web_processes)
    spies: list[Any] = []
    try:
        stages, counters = asyncio.run(drive(args, dep, spies))
        dep.procs.check_alive()
        for spy_proc in spies:
            spy_proc.wait(timeout=60)
        log = dep.log_text()
        sustained = [s["offered_per_s"] for s in stages if s.get("sustained") and "offered_per_s" in s]
        best = max(sustained) if sustained else 0
        result = {
            "bench": "conversations",
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_average": loadkit.load_average(),
            "mode": args.mode,
            "web_processes": len(dep.ports),
            "agents": args.agents,
            "think_s": args.think,
            "server_log_locked": log.count(loadkit.LOCKED),
            "server_log_errors": log.count(" ERROR ") + log.count("Traceback"),
            "client_locked": counters.locked(),
            "client_error_frames": len(counters.error_frames),
            "client_error_samples": counters.error_frames[:5],
            "client_http_errors": len(counters.http_errors),
            "client_http_error_samples": counters.http_errors[:5],
            "handshake_retries": counters.connect_retries,
            "highest_sustained_rate_per_s": best,
            "conversations_per_day_at_that_rate": round(best * 86400),
            "stages": stages,
        }
        if spies:
            result["profiles"] = str(dep.data_dir)
        print(json.dumps(result, indent=2))
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        for spy_proc in spies:
            if spy_proc.poll() is None:
                spy_proc.terminate()
        loadkit.teardown(dep, keep=args.keep or bool(spies))


if __name__ == "__main__":
    main()
