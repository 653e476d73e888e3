"""Sync throughput: `stores.sync` of all three stores from the store emulator vs the simplest fast client.

Data: N records a store (default 1,120, so 3,360 in all, as in issue 16): Apple one-time purchases (5 % refunded)
read from the notification history (ONE_TIME_CHARGE, REFUND and REFUND_REVERSED pages of 20, every notification
and its transaction a signed JWS); Google voided purchases (pages of 100, orders:batchGet, one products.get an
order); web charges (pages of 100, 5 % refunded: their refunds read from the Refunds API, one call each, and a few
disputed). The emulator runs in its own process (uvicorn, `supportdesk store-emulator`), so the CPU time printed for
ours is our client's alone; it keeps all its unkindness (Apple's rate limits with Retry-After, Google's quotas).

Ours: `sync` into a fresh SQLite database (normalised, accounts matched, upserted, counted), all three stores in
one call. Floor: the same requests with a plain httpx client that parses the JSON, decodes each Apple JWS and
checks its ES256 signature with its leaf certificate's key (loaded once; a client that skips it is not doing the
same work), and stores nothing. The floor runs two ways and the faster counts: sequential (one request after
another, the three stores one after another) and concurrent (the stores on three threads, each one's per-id
requests on 8 threads, as ours); a 429 is waited out as its Retry-After says. Then all again with 20 ms
injected into every store answer (`--faults all:latency=20`). Rounds alternate which side runs first.

python bench/bench_sync.py [--records N] [--rounds R] [--only none|20ms]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import stripe  # noqa: E402, F401  (imported before the clock starts: a first sync's import is not throughput)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature  # noqa: E402

from supportdesk.config import load_settings  # noqa: E402
from supportdesk.db.engine import make_engine  # noqa: E402
from supportdesk.db.schema import ensure_schema  # noqa: E402
from supportdesk.stores.apple import AppleClient  # noqa: E402
from supportdesk.stores.google import GoogleClient  # noqa: E402
from supportdesk.stores.sync import sync  # noqa: E402

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
SINCE = NOW - timedelta(days=21)
PACKAGE = "com.supportdesk.coins"
STORES = ("apple", "google", "web")
WORKERS = 8
ROOT = Path(__file__).resolve().parent.parent


def write_store(root: Path, n: int) -> Path:
    """N records a store over the last 20 days (see the docstring)."""
    for store in STORES:
        (root / "store" / store).mkdir(parents=True)
    span = 20 * 86_400
    apple = []
    for i in range(n):
        bought = NOW_MS - span * 1000 + i * span * 1000 // n
        txn: dict[str, Any] = {
            "transactionId": f"{2000000000000000 + i}", "originalTransactionId": f"{2000000000000000 + i}",
            "bundleId": PACKAGE, "productId": "coins_350", "type": "Consumable", "quantity": 1,
            "purchaseDate": bought, "storefront": "USA", "price": 4990, "currency": "USD",
            "appAccountToken": f"6ef9c0b8-7c04-4c72-a236-{i % 500:012d}", "environment": "Production",
            "inAppOwnershipType": "PURCHASED", "transactionReason": "PURCHASE"}
        if i % 20 == 7:
            txn.update(revocationDate=bought + 3_600_000, revocationReason=0, revocationType="REFUND_FULL",
                       revocationPercentage=100000)
        apple.append(txn)
    charges = []
    for i in range(n):
        created = NOW_MS // 1000 - span + i * span // n
        charge: dict[str, Any] = {
            "id": f"ch_{i:07d}", "amount": 499, "currency": "usd", "customer": f"cus_{i % 500}", "created": created,
            "status": "succeeded", "refunded": False, "amount_refunded": 0, "disputed": i % 97 == 5,
            "billing_country": "US", "card_fingerprint": f"fp{i % 97}",
            "metadata": {"account_id": f"acc_{i % 500}", "product_id": "coins_350", "coins": 350}}
        if i % 20 == 3:
            charge.update(refunded=True, amount_refunded=499, refunds=[
                {"id": f"re_{i:07d}", "amount": 499, "created": created + 3600, "reason": "requested_by_customer"}])
        charges.append(charge)
    disputes = [{"id": f"dp_{i:07d}", "object": "dispute", "charge": f"ch_{i:07d}", "amount": 499, "currency": "usd",
                 "status": "lost", "reason": "fraudulent", "created": c["created"] + 86_400}
                for i, c in enumerate(charges) if c["disputed"]]
    purchases = [{"orderId": f"GPA.3300-{i:04d}-0000-00000", "purchaseToken": f"tok-{i:07d}", "productId": "coins_350",
                  "purchaseTimeMillis": str(NOW_MS - 25 * 86_400_000 + i), "purchaseState": 1,
                  "consumptionState": 1, "acknowledgementState": 1, "quantity": 1, "regionCode": "US",
                  "obfuscatedExternalAccountId": f"acc_{i % 500}", "priceAmountMicros": 4990000,
                  "priceCurrencyCode": "USD", "voidedTimeMillis": str(NOW_MS - span * 1000 + i * span * 1000 // n),
                  "voidedSource": 0, "voidedReason": 1} for i in range(n)]
    files = (("apple/transactions.jsonl", apple), ("web/charges.jsonl", charges), ("web/disputes.jsonl", disputes),
             ("google/purchases.jsonl", purchases))
    for name, rows in files:
        (root / "store" / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


# -- the emulator, in its own process -----------------------------------------------------------------------------
@contextmanager
def emulator(data: Path, config: Path, faults: str | None) -> Iterator[dict[str, Any]]:
    command = [sys.executable, "-m", "supportdesk.cli", "store-emulator", "--data", str(data), "--port", "0",
               "--write-config", str(config), "--now", NOW.isoformat().replace("+00:00", "Z"), "--pull-hold", "0.2"]
    if faults:
        command += ["--faults", faults]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        if "listening on" not in line:
            raise SystemExit(f"the store emulator did not start: {line}{process.stderr.read()}")
        threading.Thread(target=process.stderr.read, daemon=True).start()  # keep its pipe drained
        settings = tomllib.loads(config.read_text(encoding="utf-8"))
        settings["emulator_pid"] = process.pid
        yield settings
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- ours -----------------------------------------------------------------------------------------------------------
def ours(config_path: Path, db_dir: Path, stores: tuple[str, ...]) -> tuple[float, float, int]:
    """Wall and CPU seconds of the sync alone (schema and settings are made before the clock starts), records."""
    engine = make_engine(f"sqlite:///{db_dir}/sync-{time.monotonic_ns()}.db")
    ensure_schema(engine)
    settings = load_settings(config_path, database_url=str(engine.url))
    google = dict(settings.stores["google"])
    google.pop("pubsub_base_url", None)  # the listings alone: held notification pulls have no floor counterpart
    settings.stores = {s: (google if s == "google" else settings.stores[s]) for s in stores}
    cpu, start = _cpu(), time.perf_counter()
    result = sync(engine, settings, since=SINCE, until=NOW, stores=list(stores), now=NOW)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    if result.failed:
        raise SystemExit(f"sync failed: {result.failed}")
    engine.dispose()
    return seconds, cpu, sum(counts.fetched for counts in result.synced.values())


def emulator_cpu(pid: int) -> float:
    """The emulator process's CPU seconds so far (user + system, from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the floor ------------------------------------------------------------------------------------------------------
class Floor:
    """The same requests through one httpx client; `workers` 1 is sequential, else stores on threads."""

    def __init__(self, config: dict[str, Any], workers: int) -> None:
        self.config = config["stores"]
        self.workers = workers
        apple = AppleClient(self.config["apple"])  # tokens minted before the clock starts
        self.apple_headers = {"Authorization": f"Bearer {apple.api_token()}"}
        apple.close()
        google = GoogleClient(self.config["google"])
        assert google.http.auth is not None
        self.google_headers = google.http.auth(False)
        google.close()
        self.keys: dict[str, Any] = {}
        self.keys_lock = threading.Lock()

    def run(self) -> int:
        jobs = (self.apple, self.google, self.web)
        with httpx.Client(timeout=30) as client:
            if self.workers == 1:
                return sum(job(client, None) for job in jobs)
            pools = [ThreadPoolExecutor(WORKERS) for _ in jobs]
            try:
                with ThreadPoolExecutor(len(jobs)) as stores:
                    return sum(f.result() for f in [stores.submit(job, client, pool)
                                                    for job, pool in zip(jobs, pools, strict=True)])
            finally:
                for pool in pools:
                    pool.shutdown()

    @staticmethod
    def send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> Any:
        while True:
            response = client.request(method, url, **kwargs)
            if response.status_code != 429:
                response.raise_for_status()
                return response.json()
            after = response.headers.get("retry-after", "1")
            wait = int(after) / 1000 - time.time() if len(after) > 10 else float(after)  # Apple: epoch ms
            time.sleep(max(wait, 0.0))

    @staticmethod
    def each(pool: ThreadPoolExecutor | None, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return [fn(item) for item in items] if pool is None else list(pool.map(fn, items))

    def jws(self, signed: str) -> dict[str, Any]:
        head, body, signature = signed.split(".")
        header, payload, raw = json.loads(_b64(head)), json.loads(_b64(body)), _b64(signature)
        leaf = header["x5c"][0]
        with self.keys_lock:
            key = self.keys.get(leaf)
            if key is None:
                key = self.keys[leaf] = x509.load_der_x509_certificate(base64.b64decode(leaf)).public_key()
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        return dict(payload)

    def apple(self, client: httpx.Client, _pool: ThreadPoolExecutor | None) -> int:
        url = f"{self.config['apple']['base_url']}/inApps/v1/notifications/history"
        seen: set[str] = set()
        for kind in ("ONE_TIME_CHARGE", "REFUND", "REFUND_REVERSED"):
            request = {"startDate": int(SINCE.timestamp() * 1000), "endDate": NOW_MS, "notificationType": kind}
            params: dict[str, str] = {}
            while True:
                page = self.send(client, "POST", url, params=params, json=request, headers=self.apple_headers)
                for item in page["notificationHistory"]:
                    note = self.jws(item["signedPayload"])
                    seen.add(self.jws(note["data"]["signedTransactionInfo"])["transactionId"])
                if not page.get("hasMore"):
                    break
                params = {"paginationToken": page["paginationToken"]}
        return len(seen)

    def google(self, client: httpx.Client, pool: ThreadPoolExecutor | None) -> int:
        api = f"{self.config['google']['base_url']}/androidpublisher/v3/applications/{PACKAGE}"
        params: dict[str, Any] = {"startTime": int(SINCE.timestamp() * 1000), "endTime": NOW_MS, "maxResults": 100,
                                  "includeQuantityBasedPartialRefund": "true"}
        seen = 0
        headers = self.google_headers
        while True:
            page = self.send(client, "GET", f"{api}/purchases/voidedpurchases", params=params, headers=headers)
            voided = page.get("voidedPurchases") or []
            orders = self.send(client, "GET", f"{api}/orders:batchGet", headers=headers,
                               params=[("orderIds", v["orderId"]) for v in voided]).get("orders") or []
            self.each(pool, lambda o: self.send(
                client, "GET", f"{api}/purchases/products/{o['lineItems'][0]['productId']}/tokens/"
                f"{o['purchaseToken']}", headers=headers), orders)
            seen += len(voided)
            token = (page.get("tokenPagination") or {}).get("nextPageToken")
            if not token:
                return seen
            params = {**params, "token": token}

    def web(self, client: httpx.Client, pool: ThreadPoolExecutor | None) -> int:
        base = self.config["web"]["base_url"].rstrip("/")
        headers = {"Authorization": f"Bearer {self.config['web']['secret_key']}"}
        since = int(SINCE.timestamp())
        self.send(client, "GET", f"{base}/v1/disputes", params={"limit": 100, "created[gte]": since}, headers=headers)
        params: dict[str, Any] = {"limit": 100, "created[gte]": since, "created[lte]": int(NOW.timestamp())}
        seen = 0
        while True:
            page = self.send(client, "GET", f"{base}/v1/charges", params=params, headers=headers)
            refunded = [c["id"] for c in page["data"] if c.get("amount_refunded") or c.get("refunded")]
            self.each(pool, lambda cid: self.send(client, "GET", f"{base}/v1/refunds", headers=headers,
                                                  params={"charge": cid, "limit": 100}), refunded)
            seen += len(page["data"])
            if not page["has_more"]:
                return seen
            params["starting_after"] = page["data"][-1]["id"]


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def timed_floor(floor: Floor) -> tuple[float, float, int]:
    cpu, start = _cpu(), time.perf_counter()
    count = floor.run()
    return time.perf_counter() - start, _cpu() - cpu, count


def run(data: Path, tmp: Path, label: str, faults: str | None, rounds: int, per_store: bool) -> None:
    config_path = tmp / f"{label.replace(' ', '-')}.toml"
    with emulator(data, config_path, faults) as config:
        floors = {"sequential": Floor(config, 1), f"{WORKERS} threads": Floor(config, WORKERS)}
        ours(config_path, tmp, STORES)  # warm: first imports, the emulator's first answers
        for round_no in range(rounds):
            measured: dict[str, tuple[float, float, int]] = {}
            order = ["ours", *floors] if round_no % 2 == 0 else [*floors, "ours"]
            served: dict[str, float] = {}
            for side in order:
                before = emulator_cpu(config["emulator_pid"])
                measured[side] = ours(config_path, tmp, STORES) if side == "ours" else timed_floor(floors[side])
                served[side] = emulator_cpu(config["emulator_pid"]) - before
            best = min(floors, key=lambda side: measured[side][0])
            wall, cpu, count = measured["ours"]
            floor_wall, floor_cpu, floor_count = measured[best]
            others = ", ".join(f"{side} {measured[side][0]:.2f} s" for side in floors)
            print(f"{label:<13} round {round_no + 1} ({'ours first' if order[0] == 'ours' else 'floor first'}): "
                  f"ours {wall:6.2f} s (CPU {cpu:5.2f} s, {count} records)   floor {floor_wall:6.2f} s "
                  f"(CPU {floor_cpu:5.2f} s, {best}; {others})   ratio {wall / floor_wall:5.2f}x"
                  + ("" if count == floor_count else f"   RECORDS DIFFER: floor {floor_count}"), flush=True)
            print(f"{'':<13} the emulator's CPU: {', '.join(f'{side} {cpu:.2f} s' for side, cpu in served.items())}",
                  flush=True)
        if per_store:
            for store in STORES:
                floor = Floor(config, 1)
                job = getattr(floor, store)
                for _ in range(rounds):
                    start = time.perf_counter()
                    with httpx.Client(timeout=30) as client:
                        floor_n = job(client, None)
                    floor_s = time.perf_counter() - start
                    ours_s, ours_cpu, ours_n = ours(config_path, tmp, (store,))
                    print(f"{label:<13} {store:<7} ours {ours_s:6.2f} s (CPU {ours_cpu:5.2f} s)   floor, sequential "
                          f"{floor_s:6.2f} s   ratio {ours_s / floor_s:5.2f}x"
                          + ("" if ours_n == floor_n else f"   RECORDS DIFFER: ours {ours_n}, floor {floor_n}"),
                          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1120, help="records a store (default 1,120: 3,360 in all)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each pair (default 2)")
    parser.add_argument("--only", choices=("none", "20ms"), help="one latency only")
    parser.add_argument("--per-store", action="store_true", help="also each store alone against its floor")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = write_store(tmp / "data", args.records)
        print(f"sync of {args.records} records a store, {3 * args.records} in all; ratio = our wall time / the "
              f"floor's (lower is better); load average {Path('/proc/loadavg').read_text().split()[:3]}")
        if args.only != "20ms":
            run(data, tmp, "no latency", None, args.rounds, args.per_store)
        if args.only != "none":
            run(data, tmp, "20 ms latency", "all:latency=20", args.rounds, args.per_store)
        print(f"load average after {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
