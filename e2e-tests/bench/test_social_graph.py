"""The social benchmark's generated inputs: exact sizes, heavy tail, determinism."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from social_graph import REED98_EDGES, REED98_USERS, ZipfWords, heavy_tailed_graph, vocabulary


def test_reed98_sized_graph_has_exact_counts_and_no_isolated_or_repeated_edges() -> None:
    g = heavy_tailed_graph()
    assert g.n == REED98_USERS
    assert len(g.edges) == REED98_EDGES
    assert len(set(g.edges)) == REED98_EDGES
    assert all(a < b for a, b in g.edges)  # simple graph: no self-loops, one orientation
    assert min(g.degrees()) >= 1
    assert len(g.follows()) == 2 * REED98_EDGES


def test_degrees_are_heavy_tailed() -> None:
    stats = heavy_tailed_graph().degree_stats()
    assert stats["max"] >= 5 * stats["median"]
    assert stats["mean"] > stats["median"]


def test_same_seed_gives_same_graph_and_another_seed_does_not() -> None:
    assert heavy_tailed_graph(200, 2000).edges == heavy_tailed_graph(200, 2000).edges
    assert heavy_tailed_graph(200, 2000).edges != heavy_tailed_graph(200, 2000, seed=2).edges


def test_zipf_text_favours_common_words_but_reaches_the_tail() -> None:
    vocab = vocabulary()
    words = ZipfWords(vocab)
    rng = random.Random(3)
    drawn = [words.draw(rng) for _ in range(20_000)]
    assert drawn.count(vocab[0]) > drawn.count(vocab[100]) * 20
    assert len(set(drawn)) > 1000
