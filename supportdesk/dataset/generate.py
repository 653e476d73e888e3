"""`generate()`: a complete, deterministic dataset directory with planted anomalies and a manifest of them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from random import Random

from supportdesk.dataset.catalog import build_catalog
from supportdesk.dataset.clean import CleanActivity
from supportdesk.dataset.ids import IdMaker
from supportdesk.dataset.manifest import Manifest
from supportdesk.dataset.near_misses import plant_near_misses
from supportdesk.dataset.people import People
from supportdesk.dataset.plant_findings import plant_findings
from supportdesk.dataset.plant_flags import plant_flags
from supportdesk.dataset.plot import Plot
from supportdesk.dataset.world import World
from supportdesk.dataset.writer import write_world

# Ordinary accounts needed beside the planted ones: at least two creators to gift to and a few viewers.
MIN_ORDINARY = 10
# The fewest accounts generate() accepts: one of every planted case (34 accounts) plus MIN_ORDINARY.
MIN_ACCOUNTS = 44


def normalize_now(now: datetime | None) -> datetime:
    """UTC, whole seconds; the wall clock when not given."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(microsecond=0)


def per_kind(accounts: int) -> int:
    """How many of each anomaly and flag: one in a 60-account fixture, five at the default 300, at most six."""
    return max(1, min(6, accounts // 75 + 1))


def generate(out_dir: Path, *, seed: int = 7, accounts: int = 300, now: datetime | None = None) -> Manifest:
    now = normalize_now(now)
    rng = Random(seed)
    world = World(build_catalog(now), rng, IdMaker(rng))
    people = People(rng, world.ids)
    manifest = Manifest(now)
    plot = Plot(world, people, CleanActivity(world, people), per_kind(accounts), manifest)
    plant_findings(plot)
    plant_flags(plot)
    plant_near_misses(plot)
    ordinary = accounts - len(world.accounts)
    if ordinary < MIN_ORDINARY:
        raise ValueError(
            f"{accounts} accounts is too few: the planted cases alone need {len(world.accounts)}, "
            f"plus {MIN_ORDINARY} ordinary ones"
        )
    plot.clean.populate(ordinary, plot.pool)
    world.finish()
    involved = plot.subjects | set(manifest.accomplices)
    manifest.clean_accounts = [a.account_id for a in world.accounts if a.account_id not in involved]
    out_dir = Path(out_dir)
    write_world(out_dir, world)
    manifest.write(out_dir / "planted.json")
    return manifest
