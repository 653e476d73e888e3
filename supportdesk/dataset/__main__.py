"""python -m supportdesk.dataset --out DIR [--seed N] [--accounts N] [--now TS] [--scaled-ledger N]

Writes a realistic dataset with planted anomalies (and planted.json), or with --scaled-ledger a large clean one
for benchmarks (--accounts then defaults to one per ten ledger entries)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from supportdesk.dataset.generate import generate
from supportdesk.dataset.scaled import write_scaled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportdesk.dataset", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=None, help="default 300")
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="ISO timestamp all dates are relative to (default: the wall clock)",
    )
    parser.add_argument(
        "--scaled-ledger",
        type=int,
        default=None,
        metavar="N",
        help="write a large clean dataset with N ledger entries instead",
    )
    args = parser.parse_args(argv)
    if args.scaled_ledger:
        counts = write_scaled(args.out, args.scaled_ledger, accounts=args.accounts, seed=args.seed, now=args.now)
        print(f"wrote {args.out}: {counts}", file=sys.stderr)
        return 0
    manifest = generate(args.out, seed=args.seed, accounts=args.accounts or 300, now=args.now)
    print(
        f"wrote {args.out}: {len(manifest.findings)} planted findings, {len(manifest.flags)} flags, "
        f"{len(manifest.clean_accounts)} clean accounts",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
