"""Believable people: names by country, unique handles, emails, adult birth dates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random

from supportdesk.dataset.ids import IdMaker
from supportdesk.dataset.world import Account

NAMES: dict[str, tuple[str, ...]] = {
    "US": (
        "emma",
        "liam",
        "olivia",
        "noah",
        "ava",
        "jackson",
        "mia",
        "lucas",
        "harper",
        "ethan",
        "madison",
        "tyler",
    ),
    "GB": ("oliver", "amelia", "george", "isla", "harry", "poppy", "jack", "freya", "alfie", "ellie"),
    "DE": ("lukas", "lena", "finn", "hannah", "jonas", "mia", "leon", "emilia", "paul", "lea"),
    "FR": ("lucas", "chloe", "hugo", "ines", "louis", "lea", "gabriel", "manon", "arthur", "camille"),
    "JP": ("haruto", "yui", "sota", "hina", "riku", "aoi", "yuto", "sakura", "kaito", "mei"),
    "KR": ("minjun", "seoyeon", "jiho", "haeun", "doyun", "jiwoo", "seojun", "minseo", "yejun", "subin"),
    "VN": ("minh", "linh", "huy", "trang", "nam", "thao", "duc", "ngoc", "khoa", "vy"),
    "BR": ("miguel", "helena", "arthur", "alice", "heitor", "laura", "davi", "valentina", "bernardo", "sophia"),
    "IN": ("aarav", "ananya", "vivaan", "diya", "arjun", "saanvi", "reyansh", "aadhya", "ishaan", "kavya"),
    "AR": ("mateo", "isabella", "benjamin", "martina", "thiago", "catalina", "santino", "emilia"),
}
WORDS = ("gamer", "music", "live", "daily", "vibes", "star", "fan", "official", "tv", "plays", "art", "dance")
MAIL = {
    "US": ("gmail.com", "yahoo.com", "icloud.com", "outlook.com"),
    "GB": ("gmail.com", "hotmail.co.uk", "icloud.com", "btinternet.com"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de"),
    "FR": ("gmail.com", "orange.fr", "free.fr", "laposte.net"),
    "JP": ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com"),
    "KR": ("naver.com", "daum.net", "gmail.com", "kakao.com"),
    "VN": ("gmail.com", "yahoo.com.vn", "outlook.com"),
    "BR": ("gmail.com", "hotmail.com", "uol.com.br", "bol.com.br"),
    "IN": ("gmail.com", "rediffmail.com", "yahoo.co.in", "outlook.com"),
    "AR": ("gmail.com", "hotmail.com.ar", "yahoo.com.ar"),
}
COUNTRY_WEIGHTS = {"US": 30, "GB": 10, "DE": 9, "FR": 7, "JP": 10, "KR": 8, "VN": 5, "BR": 11, "IN": 10}


@dataclass
class People:
    rng: Random
    ids: IdMaker
    _handles: set[str] = field(default_factory=set)

    def country(self) -> str:
        return self.rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]

    def handle(self, name: str) -> str:
        while True:
            style = self.rng.random()
            if style < 0.5:
                h = f"@{name}{self.rng.randint(1, 9999)}"
            elif style < 0.8:
                h = f"@{name}_{self.rng.choice(WORDS)}"
            else:
                h = f"@{self.rng.choice(WORDS)}.{name}{self.rng.randint(10, 99)}"
            if h.lower() not in self._handles:  # handles are unique whatever their case
                self._handles.add(h.lower())
                return h

    def birth_date(self, oldest_activity: datetime, years_min: int = 21, years_max: int = 55) -> date:
        """Old enough for the strictest country (19 in Korea) on the earliest date they could have bought."""
        start = oldest_activity.date() - timedelta(days=365 * years_max)
        end = oldest_activity.date() - timedelta(days=366 * years_min)
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def account(
        self, country: str, kind: str, created_at: datetime, birth: date | None, status: str = "active"
    ) -> Account:
        name = self.rng.choice(NAMES[country])
        handle = self.handle(name)
        local = handle[1:].replace("_", ".").rstrip(".")
        email = f"{local}@{self.rng.choice(MAIL[country])}"
        return Account(self.ids.account(), handle, email, country, birth, kind, status, created_at)
