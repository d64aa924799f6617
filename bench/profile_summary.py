"""Summarise py-spy raw (collapsed-stack) profiles: where the samples of each process went.

    python bench/profile_summary.py /tmp/load-scaled-xxxx/profile-*.txt [--top 20]

For each file: total samples, the share of samples whose stack passes through each function
(inclusive, project functions and a few library hot spots), and the leaf functions (self time).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

PROJECT = ("contactcenter/", "openlines/", "crm/", "kpi/")
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def _frame_name(frame: str) -> tuple[str, str]:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    path = match["file"].split("site-packages/")[-1]
    return f"{match['func']} ({path})", path


def summarise(path: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        stack, _sep, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_frame_name(f) for f in stack.split(";")]
        seen = set()
        for name, file in frames:
            if name in seen:
                continue
            seen.add(name)
            if file.startswith(PROJECT) or any(
                k in file for k in ("django/db/", "channels_redis", "psycopg")
            ):
                inclusive[name] += count
        leaf[frames[-1][0]] += count
    if not total:
        return f"## {path.name}: no samples\n"
    lines = [f"## {path.name}: {total} samples", "", "inclusive (stack passes through):"]
    lines += [f"  {100 * c / total:5.1f} %  {name}" for name, c in inclusive.most_common(top)]
    lines += ["", "self (leaf):"]
    lines += [f"  {100 * c / total:5.1f} %  {name}" for name, c in leaf.most_common(top)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top))


if __name__ == "__main__":
    main()
