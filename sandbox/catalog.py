"""Static shape of the fake merchant: scales, locations, products, suppliers, customers.

Everything here is drawn from one numpy Generator so the same seed gives the same store.
Money is kept as integer cents (int64) throughout the sandbox and only turned into
strings/decimals at the edges, so no float ever touches an amount.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

BASE_CURRENCY = "EUR"
BUSINESS_TZ = "Europe/Amsterdam"
TILL_TZ = "Europe/Berlin"

# The four locations of docs/raw-contract.md, in a fixed order (series index = sku * 4 + loc).
LOCATIONS: tuple[str, ...] = ("WH-AMS", "WH-LON", "ST-BER", "FBA-EU")
LOC_AMS, LOC_LON, LOC_BER, LOC_FBA = range(4)
SHOPIFY_LOCATION_IDS = {"WH-AMS": 71000001, "WH-LON": 71000002}
LOCATION_META = {
    "WH-AMS": ("Warehouse Amsterdam", "NL", "own_warehouse"),
    "WH-LON": ("3PL London", "GB", "3pl"),
    "ST-BER": ("Store Berlin", "DE", "store"),
    "FBA-EU": ("Amazon FBA EU", "DE", "marketplace_fulfilled"),
}
CHANNELS: tuple[str, ...] = ("shop", "amazon", "woo", "tills")
CH_SHOP, CH_AMAZON, CH_WOO, CH_TILLS = range(4)

CATEGORIES: tuple[str, ...] = ("apparel", "home", "kitchen", "outdoor", "accessories")
# median list price (EUR), return probability per unit sold
CATEGORY_PRICE = np.array([39.0, 45.0, 25.0, 65.0, 15.0])
CATEGORY_RETURN_RATE = np.array([0.08, 0.03, 0.025, 0.04, 0.03])
CATEGORY_NOUNS = {
    "apparel": ["Linen shirt", "Wool sweater", "Cotton tee", "Rain jacket", "Chino trousers"],
    "home": ["Throw blanket", "Ceramic vase", "Cushion cover", "Table lamp", "Wall clock"],
    "kitchen": ["Chef knife", "Cast iron pan", "Coffee grinder", "Tea towel set", "Salad bowl"],
    "outdoor": ["Camping chair", "Hiking backpack", "Tent 2p", "Sun hat", "Water bottle"],
    "accessories": ["Leather wallet", "Canvas tote", "Key ring", "Scarf", "Sunglasses"],
}
ADJECTIVES = ["Classic", "Nordic", "Urban", "Coastal", "Alpine", "Studio", "Heritage", "Everyday"]
COLOURS = ["black", "sand", "navy", "olive", "rust", "grey", "white", "teal"]

# Supplier currencies cycle through these; fixed "book" rates (EUR per unit) to price costs.
SUPPLIER_CURRENCIES = ("EUR", "USD", "GBP")
BOOK_RATE = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}

COUNTRIES = ("NL", "DE", "GB", "FR", "US", "BE", "AT", "ES")
COUNTRY_WEIGHTS = np.array([0.30, 0.22, 0.20, 0.10, 0.06, 0.05, 0.04, 0.03])
VAT_BY_COUNTRY = {"NL": 21, "DE": 19, "GB": 20, "FR": 20, "US": 0, "BE": 21, "AT": 20, "ES": 21}
FIRST_NAMES = ["Ann", "Bram", "Chloe", "Daan", "Eva", "Finn", "Greta", "Hugo", "Iris", "Jonas",
               "Kim", "Lars", "Mila", "Noah", "Olga", "Pieter", "Quinn", "Rosa", "Sven", "Tess",
               "Umar", "Vera", "Wout", "Xena", "Yara", "Zoe"]  # fmt: skip
LAST_NAMES = ["Lee", "de Vries", "Schmidt", "Smith", "Martin", "Jansen", "Muller", "Brown",
              "Dubois", "Bakker", "Weber", "Taylor", "Visser", "Fischer", "Wilson", "Meyer"]  # fmt: skip
DOMAINS = ["example.com", "mail.nl", "web.de", "post.co.uk", "inbox.fr", "shop.co.uk"]


@dataclasses.dataclass(frozen=True)
class Scale:
    """Size of a generated store. Frozen so a preset can never be mutated by a caller."""

    name: str
    n_skus: int
    n_customers: int
    days: int
    orders_per_day: float
    n_suppliers: int = 3
    launch_share: float = 0.15  # SKUs that appear during the history
    discontinued_share: float = 0.08  # SKUs archived during the history


PRESETS: dict[str, Scale] = {
    "tiny": Scale("tiny", n_skus=20, n_customers=300, days=180, orders_per_day=15),
    "demo": Scale("demo", n_skus=150, n_customers=4000, days=730, orders_per_day=50),
    "large": Scale(
        "large", n_skus=5000, n_customers=300_000, days=730, orders_per_day=1600, n_suppliers=12
    ),
}


@dataclasses.dataclass
class Catalog:
    """Products (one row per SKU, arrays indexed by sku index) and their suppliers."""

    skus: list[str]
    titles: list[str]
    category: np.ndarray  # int index into CATEGORIES
    list_price_cents: np.ndarray  # EUR
    supplier: np.ndarray  # int index into suppliers
    unit_cost_cents: np.ndarray  # in the supplier's currency
    moq: np.ndarray
    case_pack: np.ndarray
    launch_day: np.ndarray  # day index the SKU starts selling (0 = before history)
    end_day: np.ndarray  # day index it stops selling (days = never)
    carried: np.ndarray  # bool (n_skus, 4): location stocks/sells this SKU
    supplier_ids: list[str]
    supplier_names: list[str]
    supplier_currency: list[str]
    supplier_lead: np.ndarray  # days
    supplier_lead_std: np.ndarray
    # bundle sku index -> [(component sku index, units per bundle)] (sandbox/bundles.py); a
    # bundle has no supplier (``supplier`` -1)
    bundles: dict[int, list[tuple[int, int]]] = dataclasses.field(default_factory=dict)

    def vendor(self, i: int) -> str:
        """The product's vendor as the shop lists it: its supplier, the shop for a bundle."""
        s = int(self.supplier[i])
        return self.supplier_names[s] if s >= 0 else "Own brand"

    def supplier_id(self, i: int) -> str | None:
        s = int(self.supplier[i])
        return self.supplier_ids[s] if s >= 0 else None


def _price_points(raw_eur: np.ndarray) -> np.ndarray:
    """Round to retail price points (x.95 below 20, x9.00 style above) in cents."""
    whole = np.maximum(np.round(raw_eur), 3)
    return np.where(whole < 20, whole * 100 - 5, whole * 100).astype(np.int64)


def make_catalog(rng: np.random.Generator, scale: Scale) -> Catalog:
    """Draw SKUs with category, price, supplier terms and a lifecycle."""
    n = scale.n_skus
    skus = [f"SKU-{i + 1:04d}" for i in range(n)]
    category = rng.integers(0, len(CATEGORIES), n)
    price_eur = CATEGORY_PRICE[category] * rng.lognormal(0.0, 0.35, n)
    list_price = _price_points(price_eur)
    titles = []
    for i in range(n):
        cat = CATEGORIES[category[i]]
        noun = CATEGORY_NOUNS[cat][rng.integers(0, 5)]
        titles.append(f"{ADJECTIVES[rng.integers(0, 8)]} {noun} {COLOURS[rng.integers(0, 8)]}")

    ns = scale.n_suppliers
    supplier_ids = [f"SUP-{j + 1}" for j in range(ns)]
    supplier_names = [f"Supplier {chr(65 + j % 26)}{'' if j < 26 else j} Ltd" for j in range(ns)]
    supplier_currency = [SUPPLIER_CURRENCIES[j % 3] for j in range(ns)]
    # EUR suppliers are near (2-3 weeks), USD ones overseas (6-8 weeks), GBP in between.
    base_lead = np.array([14.0, 45.0, 21.0])[np.arange(ns) % 3]
    supplier_lead = np.round(base_lead * rng.uniform(0.8, 1.2, ns)).astype(np.int64)
    supplier_lead_std = np.maximum(1, np.round(supplier_lead * rng.uniform(0.1, 0.25, ns))).astype(
        np.int64
    )
    supplier = rng.integers(0, ns, n)
    cost_eur = list_price / 100.0 * rng.uniform(0.28, 0.45, n)
    book = np.array([BOOK_RATE[supplier_currency[s]] for s in supplier])
    unit_cost = np.round(cost_eur / book * 100).astype(np.int64)
    case_pack = rng.choice(np.array([1, 6, 12, 24]), n, p=[0.3, 0.3, 0.25, 0.15])
    moq = np.maximum(case_pack, rng.choice(np.array([10, 24, 50, 100]), n))

    days = scale.days
    launch_day = np.zeros(n, dtype=np.int64)
    end_day = np.full(n, days, dtype=np.int64)
    order = rng.permutation(n)
    n_launch = int(round(n * scale.launch_share))
    n_disc = int(round(n * scale.discontinued_share))
    launched = order[:n_launch]
    disc = order[n_launch : n_launch + n_disc]
    if days > 120:
        launch_day[launched] = rng.integers(60, days - 45, len(launched))
        end_day[disc] = rng.integers(days // 3, days - 30, len(disc))

    carried = np.ones((n, 4), dtype=bool)
    carried[:, LOC_LON] = rng.random(n) < 0.8
    carried[:, LOC_BER] = rng.random(n) < 0.45
    carried[:, LOC_FBA] = rng.random(n) < 0.4
    return Catalog(
        skus=skus,
        titles=titles,
        category=category,
        list_price_cents=list_price,
        supplier=supplier,
        unit_cost_cents=unit_cost,
        moq=moq.astype(np.int64),
        case_pack=case_pack.astype(np.int64),
        launch_day=launch_day,
        end_day=end_day,
        carried=carried,
        supplier_ids=supplier_ids,
        supplier_names=supplier_names,
        supplier_currency=supplier_currency,
        supplier_lead=supplier_lead,
        supplier_lead_std=supplier_lead_std,
    )


@dataclasses.dataclass
class Customers:
    """People who buy on shop/woo/tills (Amazon buyers are separate anonymised relays)."""

    email: list[str]  # canonical, normalised (lower, stripped)
    first_name: list[str]
    last_name: list[str]
    country: np.ndarray  # index into COUNTRIES
    on_shop: np.ndarray
    on_woo: np.ndarray
    on_tills: np.ndarray
    weight: np.ndarray  # relative purchase frequency (repeat buyers)


def make_customers(rng: np.random.Generator, scale: Scale) -> Customers:
    """Draw customers; ~10% buy on several channels with the same e-mail address."""
    n = scale.n_customers
    fi = rng.integers(0, len(FIRST_NAMES), n)
    li = rng.integers(0, len(LAST_NAMES), n)
    di = rng.integers(0, len(DOMAINS), n)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_WEIGHTS)
    first = [FIRST_NAMES[i] for i in fi]
    last = [LAST_NAMES[i] for i in li]
    email = [
        f"{first[k].lower()}.{last[k].lower().replace(' ', '')}{k + 1}@{DOMAINS[di[k]]}"
        for k in range(n)
    ]
    primary = rng.choice(3, n, p=[0.72, 0.08, 0.20])  # shop, woo (B2B buyers), tills
    on_shop = primary == 0
    on_woo = primary == 1
    on_tills = primary == 2
    multi = rng.random(n) < 0.10
    on_shop |= multi
    on_tills |= multi & (rng.random(n) < 0.7)
    on_woo |= multi & (rng.random(n) < 0.4)
    # Till customers are mostly locals.
    country = np.where(on_tills & ~multi & (rng.random(n) < 0.8), COUNTRIES.index("DE"), country)
    weight = rng.pareto(1.5, n) + 1.0
    return Customers(email, first, last, country, on_shop, on_woo, on_tills, weight)


def email_variant(email: str, channel: int, multi_channel: bool) -> str:
    """How a channel spells a customer's e-mail: same address, varied case and whitespace.

    Cross-channel resolution must normalise (strip + lower) to merge these.
    """
    if not multi_channel:
        return email
    local, _, domain = email.partition("@")
    if channel == CH_TILLS:
        return f" {local.capitalize()}@{domain.capitalize()}"
    if channel == CH_WOO:
        return f"{local.upper()}@{domain} "
    return email


def products_frame(cat: Catalog, start: dt.date) -> pl.DataFrame:
    """Truth table of products."""
    days = int(cat.end_day.max())
    return pl.DataFrame(
        {
            "sku": cat.skus,
            "title": cat.titles,
            "category": [CATEGORIES[c] for c in cat.category],
            "list_price": cents_to_decimal(cat.list_price_cents),
            "supplier_id": pl.Series(
                [cat.supplier_id(i) for i in range(len(cat.skus))], dtype=pl.String
            ),
            "launch_date": [start + dt.timedelta(days=int(d)) for d in cat.launch_day],
            "discontinued_date": [
                None if d >= days else start + dt.timedelta(days=int(d)) for d in cat.end_day
            ],
            "status": ["archived" if d < days else "active" for d in cat.end_day],
        }
    )


def cents_to_str(cents: np.ndarray) -> list[str]:
    """Integer cents to '12.34' strings (exact, no float)."""
    c = np.asarray(cents, dtype=np.int64)
    neg = c < 0
    a = np.abs(c)
    return [
        ("-" if n else "") + f"{w}.{f:02d}"
        for n, w, f in zip(neg.tolist(), (a // 100).tolist(), (a % 100).tolist(), strict=True)
    ]


def cents_to_decimal(cents: np.ndarray) -> pl.Series:
    """Integer cents to a polars Decimal(18, 2) series."""
    return (
        pl.Series(cents_to_str(cents), dtype=pl.String)
        .str.to_decimal(scale=2)
        .cast(pl.Decimal(18, 2))
    )
