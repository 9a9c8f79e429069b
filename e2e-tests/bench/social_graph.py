"""Deterministic inputs of the social-network benchmark: the follow graph and post text.

The graph stands in for DeathStarBench's small social graph, socfb-Reed98 (962 users,
18 812 undirected friendship edges). The dataset cannot be fetched here, so
:func:`heavy_tailed_graph` generates one with exactly that many nodes and edges and a
heavy-tailed degree distribution (Chung-Lu style: endpoints drawn in proportion to a
power-law weight), from a fixed seed. Like DeathStarBench's ``init_social_graph.py``,
each undirected edge becomes two follows (a follows b, b follows a).

Post text and search queries are drawn (Zipf) from a vocabulary of common Arabic and
English words plus generated Arabic-letter words, so some queries match tens of
thousands of posts and most match a few, as on a real index.

Everything here is pure and seeded: the same arguments give the same output.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

#: socfb-Reed98, the graph of DeathStarBench's "small" social-network setup.
REED98_USERS = 962
REED98_EDGES = 18_812
GRAPH_SEED = 1998


@dataclass(frozen=True)
class Graph:
    """An undirected simple graph on nodes ``0..n-1`` (edges as ``(a, b)`` with ``a < b``)."""

    n: int
    edges: tuple[tuple[int, int], ...]

    def degrees(self) -> list[int]:
        deg = [0] * self.n
        for a, b in self.edges:
            deg[a] += 1
            deg[b] += 1
        return deg

    def degree_stats(self) -> dict[str, float]:
        """min / median / mean / p90 / p99 / max degree."""
        deg = sorted(self.degrees())

        def q(p: float) -> float:
            return float(deg[min(len(deg) - 1, max(0, math.ceil(p * len(deg)) - 1))])

        return {
            "min": float(deg[0]),
            "median": q(0.5),
            "mean": round(sum(deg) / len(deg), 2),
            "p90": q(0.9),
            "p99": q(0.99),
            "max": float(deg[-1]),
        }

    def follows(self) -> list[tuple[int, int]]:
        """Directed follows: both directions of every edge (DeathStarBench's convention)."""
        out: list[tuple[int, int]] = []
        for a, b in self.edges:
            out.append((a, b))
            out.append((b, a))
        return out


def heavy_tailed_graph(
    n: int = REED98_USERS,
    m: int = REED98_EDGES,
    *,
    seed: int = GRAPH_SEED,
    exponent: float = 0.8,
    offset: float = 10.0,
) -> Graph:
    """A simple undirected graph with exactly ``n`` nodes and ``m`` edges, no isolated node.

    Node ``i`` gets weight ``(rank + offset) ** -exponent`` for a random rank (so node ids
    carry no degree information); each edge's endpoints are drawn in proportion to the
    weights, self-loops and duplicates redrawn. With the defaults and Reed98's size the
    degrees come out near Reed98's own (mean 39.1, median 25, maximum 337 against
    Reed98's 313).
    Every node is first given one edge so none is isolated. Raises ``ValueError`` when
    ``m`` cannot fit (``n - 1 <= m <= n(n-1)/2`` is required).
    """
    if n < 2 or not (n - 1 <= m <= n * (n - 1) // 2):
        raise ValueError(f"cannot build a connected-ish simple graph with n={n}, m={m}")
    rng = random.Random(seed)
    ranks = list(range(n))
    rng.shuffle(ranks)
    weights = [(r + offset) ** -exponent for r in ranks]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]

    def draw() -> int:
        return bisect.bisect_right(cumulative, rng.random() * total)

    edges: set[tuple[int, int]] = set()
    degree = [0] * n

    def add(a: int, b: int) -> bool:
        if a == b:
            return False
        key = (a, b) if a < b else (b, a)
        if key in edges:
            return False
        edges.add(key)
        degree[a] += 1
        degree[b] += 1
        return True

    for node in range(n):
        while degree[node] == 0 and len(edges) < m:
            add(node, draw())
    while len(edges) < m:
        add(draw(), draw())
    return Graph(n, tuple(sorted(edges)))


# --------------------------------------------------------------------------- text

_ARABIC_TEXT = (
    "السلام عليكم صباح الخير مساء النور مرحبا شكرا جزيلا اليوم غدا أمس القاهرة الرياض "
    "دبي بيروت عمان تونس الرباط بغداد دمشق الكويت الدوحة مسقط الجزائر الخرطوم القدس "
    "كتاب مدرسة جامعة طالب معلم مكتبة قهوة شاي مطعم طعام سفر رحلة بحر شمس قمر مطر "
    "سماء أرض جبل نهر حديقة شارع مدينة قرية بيت عائلة صديق أخ أخت أم أب طفل "
    "كرة القدم مباراة فريق هدف لاعب ملعب فوز خسارة بطولة موسيقى أغنية فيلم مسلسل "
    "صورة فيديو رسالة هاتف حاسوب برمجة تقنية ذكاء اصطناعي علم معرفة تاريخ ثقافة "
    "لغة عربية شعر رواية قصة فن رسم معرض سوق تسوق ملابس رياضة صحة طبيب مستشفى "
    "عمل شركة مشروع فكرة خطة نجاح حلم أمل حب سعادة جميل رائع جديد قديم كبير صغير"
)

ARABIC_WORDS = tuple(_ARABIC_TEXT.split())

_ENGLISH_TEXT = (
    "hello world good morning evening today tomorrow yesterday coffee tea music movie "
    "football match team goal player stadium win loss championship travel trip beach "
    "sun moon rain sky mountain river garden street city village home family friend "
    "brother sister mother father child book school university student teacher library "
    "photo video message phone computer code programming technology science knowledge "
    "history culture language poetry novel story art painting gallery market shopping "
    "clothes sport health doctor hospital work company project idea plan success dream "
    "hope love happy beautiful great new old big small weekend holiday festival food"
)
ENGLISH_WORDS = tuple(_ENGLISH_TEXT.split())

_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(size: int = 6000, *, seed: int = 7) -> list[str]:
    """Common words first (most frequent under Zipf), then generated Arabic-letter words.

    The generated words (3-7 letters) make up the long tail: each names only a few posts.
    """
    rng = random.Random(seed)
    words: list[str] = []
    common = list(ARABIC_WORDS) + list(ENGLISH_WORDS)
    rng.shuffle(common)
    seen = set(common)
    words.extend(common)
    while len(words) < size:
        word = "".join(rng.choice(_ARABIC_LETTERS) for _ in range(rng.randint(3, 7)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class ZipfWords:
    """Draws words from ``vocab`` with probability proportional to ``1 / rank**s``."""

    def __init__(self, vocab: Sequence[str], s: float = 1.0) -> None:
        self.vocab = list(vocab)
        self.cumulative = list(
            itertools.accumulate(1.0 / (r + 1) ** s for r in range(len(self.vocab)))
        )

    def draw(self, rng: random.Random) -> str:
        x = rng.random() * self.cumulative[-1]
        return self.vocab[bisect.bisect_right(self.cumulative, x)]

    def sentence(self, rng: random.Random, lo: int = 6, hi: int = 24) -> str:
        """``lo..hi`` words; now and then one of them is a ``#hashtag``."""
        words = [self.draw(rng) for _ in range(rng.randint(lo, hi))]
        if rng.random() < 0.3:
            words.append("#" + self.draw(rng))
        return " ".join(words)

    def query(self, rng: random.Random) -> str:
        """One word (70 %) or two (30 %), as short search-box queries are."""
        return " ".join(self.draw(rng) for _ in range(1 if rng.random() < 0.7 else 2))
