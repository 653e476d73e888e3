"""The demo and test dataset generator (formats.md section 1), pure standard library plus babel and pycountry."""

from supportdesk.dataset.generate import MIN_ACCOUNTS, generate
from supportdesk.dataset.manifest import Manifest, NearMiss, PlantedFinding, PlantedFlag
from supportdesk.dataset.scaled import ScaledCounts, write_scaled

__all__ = [
    "MIN_ACCOUNTS",
    "Manifest",
    "NearMiss",
    "PlantedFinding",
    "PlantedFlag",
    "ScaledCounts",
    "generate",
    "write_scaled",
]
