"""Network and identity facts for simulated callers: countries, ASNs, IPs, user agents, e-mail.

Everything is consistent inside the simulation: a country has a UTC offset, residential and
mobile ASNs, and each ASN owns a few synthetic /16 blocks, so an IP always maps back to the
same ASN and country. ASN numbers and names are real operators; the IP blocks are drawn
deterministically from public address space and are *not* the operators' real ranges.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Country:
    """One country: its code, a representative UTC offset (hours), weight and ASNs."""

    code: str
    utc_offset: float
    weight: float
    residential: tuple[int, ...]
    mobile: tuple[int, ...]


#: A representative offset per country (DST ignored: the simulator works in standard time).
COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country("US", -6.0, 30.0, (7922, 701, 20115, 7018, 22773), (21928, 22394, 20057)),
        Country("GB", 0.0, 6.0, (2856, 5089, 5607), (12576, 25135)),
        Country("DE", 1.0, 6.0, (3320, 3209, 6805), (6805, 9145)),
        Country("FR", 1.0, 4.0, (3215, 12322, 5410), (51207,)),
        Country("IN", 5.5, 9.0, (24560, 45609, 55836), (45271, 38266)),
        Country("BR", -3.0, 5.0, (28573, 18881, 26599), (26615,)),
        Country("JP", 9.0, 5.0, (2516, 4713, 17676), (2527,)),
        Country("KR", 9.0, 3.0, (4766, 9318, 3786), (17858,)),
        Country("CA", -5.0, 4.0, (812, 577, 5769), (22652,)),
        Country("AU", 10.0, 3.0, (1221, 4739, 7545), (133612,)),
        Country("SG", 8.0, 2.0, (9506, 55430), (4773,)),
        Country("NL", 1.0, 2.0, (1136, 33915), (50266,)),
        Country("ES", 1.0, 2.0, (3352, 12479), (12430,)),
        Country("MX", -6.0, 2.0, (8151, 28548), (28403,)),
        Country("ID", 7.0, 3.0, (7713, 17974), (23693,)),
        Country("VN", 7.0, 2.0, (7552, 45899), (45543,)),
        Country("PL", 1.0, 2.0, (5617, 12741), (29247,)),
        Country("NG", 1.0, 1.5, (37282, 36873), (29465,)),
        Country("TR", 3.0, 2.0, (9121, 34984), (15897,)),
        Country("UA", 2.0, 1.5, (15895, 13188), (21497,)),
    )
}

#: Cloud and hosting ASNs (server-side apps, eval runners, datacenter proxies).
DATACENTER_ASNS: dict[int, str] = {
    16509: "US",  # Amazon
    14618: "US",  # Amazon
    396982: "US",  # Google Cloud
    8075: "US",  # Microsoft
    14061: "US",  # DigitalOcean
    16276: "FR",  # OVH
    24940: "DE",  # Hetzner
    63949: "US",  # Akamai / Linode
    20473: "US",  # Vultr
    45102: "SG",  # Alibaba
    132203: "SG",  # Tencent
    51167: "DE",  # Contabo
}

_RESERVED_FIRST_OCTETS = frozenset({0, 10, 100, 127, 169, 172, 192, 198, 203, 224})


def _digest_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


@functools.lru_cache(maxsize=4096)
def asn_blocks(asn: int, count: int = 4) -> tuple[tuple[int, int], ...]:
    """The synthetic /16 blocks (first two octets) owned by ``asn``; stable across runs."""
    blocks = []
    for i in range(count):
        h = _digest_int(f"asn:{asn}:{i}")
        first = 1 + h % 222
        while first in _RESERVED_FIRST_OCTETS or first > 223:
            first = (first + 7) % 222 + 1
        blocks.append((first, (h >> 16) % 256))
    return tuple(blocks)


@functools.lru_cache(maxsize=4096)
def country_of_asn(asn: int) -> str:
    """The country an ASN belongs to (datacenter ASNs have a home country too)."""
    if asn in DATACENTER_ASNS:
        return DATACENTER_ASNS[asn]
    for c in COUNTRIES.values():
        if asn in c.residential or asn in c.mobile:
            return c.code
    raise KeyError(asn)


def ips_in_asn(
    rng: np.random.Generator, asn: int, n: int, *, subnets: int | None = None
) -> list[str]:
    """Draw ``n`` IPv4 addresses from ``asn``'s blocks.

    Args:
        rng: random source.
        asn: the owning ASN.
        n: how many addresses.
        subnets: if set, addresses are confined to this many /24 networks (proxy pools that
            reuse subnets); otherwise every address lands in a random /24.
    """
    blocks = asn_blocks(asn)
    if subnets is not None:
        nets_b = rng.integers(0, len(blocks), size=subnets)
        nets_c = rng.integers(0, 256, size=subnets)
        pick = rng.integers(0, subnets, size=n)
        b_idx, third = nets_b[pick], nets_c[pick]
    else:
        b_idx = rng.integers(0, len(blocks), size=n)
        third = rng.integers(0, 256, size=n)
    fourth = rng.integers(1, 255, size=n)
    return [
        f"{blocks[b][0]}.{blocks[b][1]}.{c}.{d}"
        for b, c, d in zip(b_idx.tolist(), third.tolist(), fourth.tolist(), strict=True)
    ]


def ip_from_uniform(asn: int, u1: float, u2: float) -> str:
    """An address in ``asn`` from two uniforms in [0, 1) (scalar fast path)."""
    blocks = asn_blocks(asn)
    x = int(u1 * len(blocks) * 65536)
    b = blocks[x >> 16]
    return f"{b[0]}.{b[1]}.{(x >> 8) & 255}.{1 + int(u2 * 254)}"


def pick_countries(rng: np.random.Generator, n: int, only: tuple[str, ...] = ()) -> list[str]:
    """Draw ``n`` country codes by weight (restricted to ``only`` when given)."""
    codes = [c for c in COUNTRIES if not only or c in only]
    if not codes:
        raise ValueError(f"no known country among {only!r}; known: {', '.join(COUNTRIES)}")
    w = np.array([COUNTRIES[c].weight for c in codes])
    return [codes[i] for i in rng.choice(len(codes), size=n, p=w / w.sum()).tolist()]


# User agents: SDKs with versions, browsers, command-line tools and custom apps.
_SDKS = (
    ("OpenAI/Python {}", ("1.35.3", "1.40.2", "1.47.1", "1.51.0", "1.54.4", "1.58.1")),
    ("AsyncOpenAI/Python {}", ("1.40.2", "1.51.0", "1.54.4")),
    ("OpenAI/JS {}", ("4.52.7", "4.67.3", "4.73.0")),
    ("anthropic-python/{}", ("0.34.2", "0.39.0", "0.42.0")),
    ("langchain-core/{}", ("0.2.38", "0.3.15", "0.3.21")),
    ("llama-index/{}", ("0.10.68", "0.11.20")),
    ("litellm/{}", ("1.48.2", "1.52.9")),
)
_TOOLS = (
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "python-httpx/0.27.0",
    "python-httpx/0.27.2",
    "aiohttp/3.9.5",
    "aiohttp/3.10.10",
    "curl/7.81.0",
    "curl/8.5.0",
    "curl/8.7.1",
    "Go-http-client/2.0",
    "axios/1.7.7",
    "node-fetch/1.0",
    "okhttp/4.12.0",
)
_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
)

#: user-agent families a persona or campaign can ask for.
UA_FAMILIES = ("sdk", "tool", "browser", "app")


def user_agent(rng: np.random.Generator, family: str, app_name: str = "") -> str:
    """One plausible User-Agent string of ``family`` (sdk, tool, browser, app)."""
    u = rng.random(3)
    if family == "sdk":
        fmt, versions = _SDKS[int(u[0] * len(_SDKS))]
        return fmt.format(versions[int(u[1] * len(versions))])
    if family == "tool":
        return _TOOLS[int(u[0] * len(_TOOLS))]
    if family == "browser":
        return _BROWSERS[int(u[0] * len(_BROWSERS))].format(v=118 + int(u[1] * 13))
    if family == "app":
        name = app_name or "InternalApp"
        return f"{name}/{1 + int(u[0] * 5)}.{int(u[1] * 20)}.{int(u[2] * 9)}"
    raise ValueError(f"unknown user-agent family {family!r}; known: {', '.join(UA_FAMILIES)}")


def user_agent_mix(rng: np.random.Generator, weights: dict[str, float], app_name: str = "") -> str:
    """A User-Agent whose family is drawn from ``weights`` (family -> weight)."""
    fams = sorted(weights)
    total = sum(weights.values())
    r, acc = rng.random() * total, 0.0
    fam = fams[-1]
    for f in fams:
        acc += weights[f]
        if r < acc:
            fam = f
            break
    return user_agent(rng, fam, app_name)


WEBMAIL = (
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "qq.com",
    "163.com",
    "gmx.de",
    "yandex.ru",
    "naver.com",
    "mail.ru",
)
UNIVERSITIES = (
    "mit.edu",
    "stanford.edu",
    "berkeley.edu",
    "cmu.edu",
    "ox.ac.uk",
    "cam.ac.uk",
    "ethz.ch",
    "tsinghua.edu.cn",
    "u-tokyo.ac.jp",
    "kaist.ac.kr",
    "iitb.ac.in",
    "usp.br",
    "tum.de",
    "utoronto.ca",
    "unimelb.edu.au",
    "nus.edu.sg",
)
DISPOSABLE = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "temp-mail.org",
    "yopmail.com",
    "sharklasers.com",
    "trashmail.com",
    "dispostable.com",
)
_ORG_A = (
    "acme", "north", "blue", "apex", "lumen", "vertex", "quant", "harbor", "cedar", "orbit",
    "nova", "pixel", "summit", "atlas", "ember", "delta", "sigma", "prism", "tidal", "granite",
)  # fmt: skip
_ORG_B = (
    "logistics", "health", "labs", "analytics", "retail", "legal", "media", "bank", "works",
    "systems", "robotics", "foods", "travel", "insure", "learning", "energy", "studio", "cloud",
)  # fmt: skip
_TLDS = ("com", "com", "io", "ai", "co", "de", "co.uk", "fr", "in", "com.br", "jp")


def org_domain(rng: np.random.Generator) -> str:
    """A plausible corporate e-mail domain."""
    u = rng.random(4)
    a, b = _ORG_A[int(u[0] * len(_ORG_A))], _ORG_B[int(u[1] * len(_ORG_B))]
    sep = "-" if u[2] < 0.3 else ""
    return f"{a}{sep}{b}.{_TLDS[int(u[3] * len(_TLDS))]}"


def org_app_name(domain: str) -> str:
    """A custom app name for an organisation's user agent, from its domain."""
    stem = domain.split(".")[0].replace("-", " ").title().replace(" ", "")
    return f"{stem}Bot"


def random_ids(rng: np.random.Generator, prefix: str, n: int, nbytes: int = 8) -> list[str]:
    """``n`` random-looking identifiers such as ``acct_9f2c...`` (no meaning encoded)."""
    raw = rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()
    width = min(nbytes * 2, 16)
    return [f"{prefix}{v:016x}"[: len(prefix) + width] for v in raw]


def pick_webmail(rng: np.random.Generator) -> str:
    """A webmail domain, weighted towards the big providers."""
    return WEBMAIL[int(rng.random() * len(WEBMAIL))]
