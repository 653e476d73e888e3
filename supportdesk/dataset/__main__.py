"""python -m supportdesk.dataset --out DIR [--seed N] [--accounts N] [--now TS] [--scaled-ledger N]"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from supportdesk.dataset.generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supportdesk.dataset", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="ISO timestamp all dates are relative to (default: the wall clock)",
    )
    args = parser.parse_args(argv)
    manifest = generate(args.out, seed=args.seed, accounts=args.accounts, now=args.now)
    print(
        f"wrote {args.out}: {len(manifest.findings)} planted findings, {len(manifest.flags)} flags, "
        f"{len(manifest.clean_accounts)} clean accounts",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
