"""First paint of `supportdesk` vs a bare Textual app, and a one-shot `search --json` vs a bare script.

python bench/bench_startup.py [--runs 5] [--db URL] [--query TEXT]   (default: a 300-account demo database, cached
in /tmp/supportdesk-bench; the query defaults to one of its handles)

First paint, measured the same way for both, under a pseudo-terminal of 80x24 (what a user sees, nothing
instrumented inside either app): the time from spawning the process until the first screen's search box
placeholder has been written to the terminal. That includes the interpreter start, every import, and for ours the
database connect, the schema and policy check and the identity read that come before the screen. A Pilot or an
on_mount timestamp would leave out the interpreter, the imports before the app object and the first write to
the terminal, which is most of what a user waits for.
- ours: `python -m supportdesk.cli --db URL` (the console script's code path), its search screen.
- floor: the same interpreter running a bare Textual app whose one widget is an Input with the same placeholder.
One-shot lookup:
- ours: `python -m supportdesk.cli --db URL search QUERY --json`, to its exit.
- floor: a bare script (`sqlite3` or `psycopg` and `json` only) that runs the very statements `search` runs for
  QUERY (the same columns, joins and predicates, compiled by this script and handed over) and prints the rows as
  JSON, to its exit.
Each pair runs alternating (ours, floor, ours, floor, ...) after one untimed warm-up of each, so both see warm file
caches; the medians are compared, and the CPU time (user + system, from the kernel) is printed too because a
shared machine stretches wall time more than CPU time: for first paint, the CPU the process (all its threads)
had used when the marker was seen, and for both the CPU to its exit (ours connects after the first paint).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKER = "email, acc_"  # inside the search box's placeholder, drawn with the first screen
PLACEHOLDER = "Search: @handle, email, acc_…, pur_…, ch_…, GPA.…, T-…"
FLOOR_APP = f"""
from textual.app import App
from textual.widgets import Input

class Floor(App):
    def compose(self):
        yield Input(placeholder={PLACEHOLDER!r})

Floor().run()
"""
FLOOR_QUERY = """
import json, sys
url, statements = sys.argv[1], json.loads(sys.argv[2])
if url.startswith("sqlite"):
    import sqlite3
    conn = sqlite3.connect(url.split("///", 1)[1])
else:
    import psycopg
    conn = psycopg.connect(url)
cur = conn.cursor()
names = ["account_id", "handle", "email", "country", "kind", "status", "coin_balance", "diamond_balance"]
found = {}
for sql, args in statements:
    cur.execute(sql, args)
    for row in cur.fetchall():
        found.setdefault(row[0], dict(zip(names, row)))
sys.stdout.write(json.dumps({"accounts": list(found.values())[:50]}) + "\\n")
"""
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def env() -> dict[str, str]:
    """Both sides run with cached bytecode, as an installed package does (pip compiles it); the cache lives under
    /tmp so the checkout stays clean, and PYTHONDONTWRITEBYTECODE (set in some shells) is dropped for that."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**base, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": "/tmp/supportdesk-bench/pycache",
            "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}


def paint(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds until MARKER is on the terminal, CPU seconds of the process until its exit, CPU seconds of
    the process, all its threads, when MARKER was seen: /proc's 10 ms ticks)."""
    before = _children_cpu()
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env(), start_new_session=True,
                            close_fds=True)
    os.close(slave)
    seen, took = b"", None
    try:
        while took is None:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                raise RuntimeError(f"no first paint in 30 s from {argv}: {ANSI.sub(b'', seen)[-400:]!r}")
            chunk = os.read(master, 65536)
            seen += chunk
            if MARKER.encode() in ANSI.sub(b"", seen):
                took = time.perf_counter() - t0
                at_paint = _cpu_of(proc.pid)
        os.write(master, b"\x11")  # ctrl+q: quit
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        os.close(master)
    return took, _children_cpu() - before, at_paint


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def to_exit(argv: list[str]) -> tuple[float, float, str]:
    before = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env(), check=False)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr.decode()[-400:]}")
    return took, _children_cpu() - before, proc.stdout.decode()


def alternate(label: str, ours, floor, runs: int) -> None:  # type: ignore[no-untyped-def]
    ours(), floor()  # warm-up, untimed
    mine: list[tuple[float, ...]] = []
    base: list[tuple[float, ...]] = []
    for _ in range(runs):
        mine.append(ours())
        base.append(floor())
    o, f = statistics.median(r[0] for r in mine), statistics.median(r[0] for r in base)
    oc, fc = statistics.median(r[1] for r in mine), statistics.median(r[1] for r in base)
    at_paint = ""
    if len(mine[0]) > 2:  # first paint: the CPU spent until then too (a shared machine stretches wall time)
        op, fp = statistics.median(r[2] for r in mine), statistics.median(r[2] for r in base)
        at_paint = f"CPU to first paint ours {op:.2f} s, floor {fp:.2f} s, ratio {op / fp:.2f}; "
    print(f"{label}: ours {o:.3f} s  floor {f:.3f} s  ratio {o / f:.2f}  ({at_paint}CPU to exit ours {oc:.3f} s, "
          f"floor {fc:.3f} s, ratio {oc / fc:.2f}; {runs} runs each, medians; ours "
          f"{', '.join(f'{r[0]:.2f}' for r in mine)}; floor {', '.join(f'{r[0]:.2f}' for r in base)})")


def demo_database() -> str:
    cache = Path("/tmp/supportdesk-bench")
    cache.mkdir(exist_ok=True)
    db, data = cache / "startup-demo.db", cache / "startup-demo"
    if not db.exists():
        subprocess.run([sys.executable, "-m", "supportdesk.dataset", "--out", str(data), "--accounts", "300",
                        "--now", "2026-06-01T12:00:00+00:00"], check=True, capture_output=True, env=env())
        subprocess.run([sys.executable, "-m", "supportdesk.cli", "--db", f"sqlite:///{db}", "import", str(data),
                        "--json"], check=True, capture_output=True, env=env())
    return f"sqlite:///{db}"


def search_statements(url: str, query: str) -> str:
    """What `search` runs for the query, as (SQL, arguments) pairs the driver takes as they are."""
    from supportdesk.db.engine import make_engine
    from supportdesk.domain.query import parse_query
    from supportdesk.services import lookup

    engine = make_engine(url)
    pairs = [(stmt.sql, stmt.args(values))
             for _key, stmt, values in lookup._candidates(parse_query(query), False, engine.dialect)]
    engine.dispose()
    return json.dumps(pairs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db")
    parser.add_argument("--query")
    args = parser.parse_args()
    url = args.db or demo_database()
    query = args.query or "@" + _a_handle(url)
    py = sys.executable
    engine_name = "postgresql" if url.startswith("postgres") else "sqlite"
    alternate(f"first paint ({engine_name})", lambda: paint([py, "-m", "supportdesk.cli", "--db", url]),
              lambda: paint([py, "-c", FLOOR_APP]), args.runs)
    statements = search_statements(url, query)
    pg_url = url.replace("postgresql+psycopg://", "postgresql://")
    ours_out = to_exit([py, "-m", "supportdesk.cli", "--db", url, "search", query, "--json"])[2]
    floor_out = to_exit([py, "-c", FLOOR_QUERY, pg_url, statements])[2]
    same = [a["account_id"] for a in json.loads(ours_out)["accounts"]] == \
        [a["account_id"] for a in json.loads(floor_out)["accounts"]]
    assert same, "the floor script found other accounts than search"
    alternate(f"one-shot search --json {query!r} ({engine_name})",
              lambda: to_exit([py, "-m", "supportdesk.cli", "--db", url, "search", query, "--json"])[:2],
              lambda: to_exit([py, "-c", FLOOR_QUERY, pg_url, statements])[:2], args.runs)


def _a_handle(url: str) -> str:
    """The start of some account's handle in the database (a prefix search finds it and its neighbours)."""
    from sqlalchemy import text

    from supportdesk.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        handle = conn.execute(text("SELECT handle FROM accounts ORDER BY account_id LIMIT 1")).scalar_one()
    engine.dispose()
    return str(handle).lstrip("@")[:4]


if __name__ == "__main__":
    main()
