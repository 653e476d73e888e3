"""Sync throughput against the store emulator vs a bare httpx loop over the same pages, in the same run.

Ours: `stores.sync` of the web processor's charges (stripe-python, pages of 100, normalised and upserted) and of
Google's voided purchases (voided pages, orders:batchGet, one products.get per order). Floor: the same HTTP
requests in a plain httpx loop that only parses the JSON, no normalising, no database. Then both again with 20 ms
injected into every store answer (`--faults all:latency=20`), where the network, not our code, should dominate.

python bench/bench_sync.py [--records N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import stripe  # noqa: E402, F401  (imported before the clock starts: a first sync's import is not throughput)

from supportdesk.config import load_settings  # noqa: E402
from supportdesk.db.engine import make_engine  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.emulator.server import EmulatorHandle, start_in_thread  # noqa: E402
from supportdesk.emulator.state import Realism  # noqa: E402
from supportdesk.stores.google import GoogleClient  # noqa: E402
from supportdesk.stores.sync import sync  # noqa: E402

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
PACKAGE = "com.supportdesk.coins"


def write_store(root: Path, n: int) -> Path:
    """N web charges over the last 20 days and N Google purchases voided within the last 20 days."""
    for store in ("apple", "web", "google"):
        (root / "store" / store).mkdir(parents=True)
    (root / "store" / "apple" / "transactions.jsonl").write_text("", encoding="utf-8")
    span = 20 * 86_400
    charges = [{"id": f"ch_{i:07d}", "amount": 499, "currency": "usd", "customer": f"cus_{i % 500}",
                "created": NOW_MS // 1000 - span + i * span // n, "status": "succeeded", "refunded": False,
                "amount_refunded": 0, "disputed": False, "billing_country": "US", "card_fingerprint": f"fp{i % 97}",
                "metadata": {"account_id": f"acc_{i % 500}", "product_id": "coins_350", "coins": 350}}
               for i in range(n)]
    purchases = [{"orderId": f"GPA.3300-{i:04d}-0000-00000", "purchaseToken": f"tok-{i:07d}", "productId": "coins_350",
                  "purchaseTimeMillis": str(NOW_MS - 25 * 86_400_000 + i), "purchaseState": 1,
                  "consumptionState": 1, "acknowledgementState": 1, "quantity": 1, "regionCode": "US",
                  "obfuscatedExternalAccountId": f"acc_{i % 500}", "priceAmountMicros": 4990000,
                  "priceCurrencyCode": "USD", "voidedTimeMillis": str(NOW_MS - span * 1000 + i * span * 1000 // n),
                  "voidedSource": 0, "voidedReason": 1} for i in range(n)]
    for name, rows in (("web/charges.jsonl", charges), ("google/purchases.jsonl", purchases)):
        (root / "store" / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


def ours(handle: EmulatorHandle, db_dir: Path, store: str) -> tuple[float, int]:
    """Seconds for the sync alone (schema and settings are made before the clock starts), and records fetched."""
    engine = make_engine(f"sqlite:///{db_dir}/sync-{store}-{time.monotonic_ns()}.db")
    ensure_schema(engine)
    settings = load_settings(handle.config_path, database_url=str(engine.url))
    config = dict(settings.stores[store])
    config.pop("pubsub_base_url", None)  # the listing alone: notifications have no floor counterpart here
    settings.stores = {store: config}
    start = time.perf_counter()
    result = sync(engine, settings, since=NOW - timedelta(days=21), until=NOW, stores=[store], now=NOW)
    seconds = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"sync failed: {result.failed}")
    engine.dispose()
    return seconds, result.synced[store].fetched


def floor_web(handle: EmulatorHandle, config: dict[str, Any]) -> int:
    web = config["stores"]["web"]
    since = int((NOW - timedelta(days=21)).timestamp())
    params: dict[str, Any] = {"limit": 100, "created[gte]": since, "created[lte]": int(NOW.timestamp())}
    seen = 0
    with httpx.Client(base_url=web["base_url"], headers={"Authorization": f"Bearer {web['secret_key']}"}) as client:
        disputes = client.get("/v1/disputes", params={"limit": 100, "created[gte]": since}).json()
        assert isinstance(disputes["data"], list)
        while True:
            page = client.get("/v1/charges", params=params).json()
            seen += len(page["data"])
            if not page["has_more"]:
                return seen
            params["starting_after"] = page["data"][-1]["id"]


def floor_google(handle: EmulatorHandle, config: dict[str, Any]) -> int:
    google = config["stores"]["google"]
    auth = GoogleClient(google).http.auth  # one token, minted before the clock starts counting pages
    assert auth is not None
    headers = auth(False)
    api = f"{google['base_url']}/androidpublisher/v3/applications/{PACKAGE}"
    params: dict[str, Any] = {"startTime": int((NOW - timedelta(days=21)).timestamp() * 1000), "endTime": NOW_MS,
                              "maxResults": 100, "includeQuantityBasedPartialRefund": "true"}
    seen = 0
    with httpx.Client(base_url=api, headers=headers) as client:
        while True:
            page = client.get("/purchases/voidedpurchases", params=params).json()
            voided = page.get("voidedPurchases") or []
            orders = client.get("/orders:batchGet", params=[("orderIds", v["orderId"]) for v in voided]).json()
            for order in orders.get("orders") or []:
                product = order["lineItems"][0]["productId"]
                client.get(f"/purchases/products/{product}/tokens/{order['purchaseToken']}").json()
            seen += len(voided)
            next_token = (page.get("tokenPagination") or {}).get("nextPageToken")
            if not next_token:
                return seen
            params = {**params, "token": next_token}


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def run(data: Path, tmp: Path, label: str, faults: str | None) -> None:
    handle = start_in_thread(data, config_path=tmp / f"{label}.toml", now=NOW.isoformat().replace("+00:00", "Z"),
                             faults=faults, realism=Realism(pull_hold_s=0.2))
    try:
        config = tomllib.loads(handle.config_path.read_text(encoding="utf-8"))
        for store, floor in (("web", floor_web), ("google", floor_google)):
            floor_s, floor_n = timed(lambda f=floor: f(handle, config))  # type: ignore[misc]
            ours_s, ours_n = ours(handle, tmp, store)
            print(f"{label:<13} {store:<7} ours {ours_n / ours_s:8.0f} rec/s ({ours_s:6.2f} s)   "
                  f"floor {floor_n / floor_s:8.0f} rec/s ({floor_s:6.2f} s)   ratio {ours_s / floor_s:5.2f}x"
                  + ("" if ours_n == floor_n else f"   (records: ours {ours_n}, floor {floor_n})"))
    finally:
        handle.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000, help="charges and voided Google orders (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = write_store(tmp / "data", args.records)
        print(f"sync of {args.records} records per store; ratio = our time / the bare httpx loop's (lower is better)")
        run(data, tmp, "no latency", None)
        run(data, tmp, "20 ms latency", "all:latency=20")


if __name__ == "__main__":
    main()
