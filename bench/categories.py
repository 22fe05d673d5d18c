"""Precision and recall of the offline categorizer on the labelled set (memvault/testing/category_set.py).

Each labelled memory is added with ``Engine.add(..., infer=False)`` and no categories, as a client adds one, into a
fresh SQLite project; the categories memvault gives it are compared with the expected ones. Precision and recall
are micro-averaged over (memory, category) pairs; "top-1" is the share of memories whose first category is one of
the expected. Printed for the tuning half, the held-out half and the whole set, then for a grid of thresholds and
margins around the defaults (``Limits.category_threshold`` / ``category_margin``).

    python bench/categories.py [--embedder minilm|hashing] [--grid]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from memvault.embed import build_embedder
from memvault.embed.base import Embedder
from memvault.engine import Engine, Limits, Owners
from memvault.extract.base import Message
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.category_set import HOLDOUT, LABELLED, TUNE

Labelled = Sequence[tuple[str, frozenset[str]]]


def categorize(engine: Engine, labelled: Labelled) -> list[list[str]]:
    """The categories memvault gives each labelled memory, added one call for all of them."""
    project = engine.project(f"bench-{id(labelled)}").id
    results = engine.add(project, [Message("user", text) for text, _ in labelled], Owners(user_id="bench"))
    by_text = {r.memory.text: r.memory.categories for r in results}
    return [by_text[text] for text, _ in labelled]


def score(labelled: Labelled, got: list[list[str]]) -> tuple[float, float, float]:
    """Micro precision, micro recall, and the share of memories whose first category is right."""
    tp = fp = fn = top1 = 0
    for (_, expected), chosen in zip(labelled, got, strict=True):
        tp += len(expected & set(chosen))
        fp += len(set(chosen) - expected)
        fn += len(expected - set(chosen))
        top1 += bool(chosen) and chosen[0] in expected
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), top1 / len(labelled)


def engine_over(folder: Path, embedder: Embedder, limits: Limits) -> Engine:
    return Engine(SQLiteStore(folder / f"{limits.category_threshold}-{limits.category_margin}.db"), embedder,
                  OfflineExtractor(), limits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--grid", action="store_true", help="also score thresholds and margins around the defaults")
    args = parser.parse_args()
    embedder = build_embedder(args.embedder)
    with tempfile.TemporaryDirectory() as tmp:
        engine = engine_over(Path(tmp), embedder, Limits())
        for name, part in (("tune", TUNE), ("holdout", HOLDOUT), ("all", LABELLED)):
            p, r, top1 = score(part, categorize(engine, part))
            print(f"{name:8} n={len(part):3}  precision {p:.3f}  recall {r:.3f}  F1 {2 * p * r / (p + r):.3f}  "
                  f"top-1 {top1:.3f}")
        engine.close()
        if args.grid:
            for threshold in (0.20, 0.22, 0.25, 0.28, 0.30):
                row = []
                for margin in (0.04, 0.06, 0.08, 0.10, 0.12):
                    limits = replace(Limits(), category_threshold=threshold, category_margin=margin)
                    grid_engine = engine_over(Path(tmp), embedder, limits)
                    p, r, _ = score(LABELLED, categorize(grid_engine, LABELLED))
                    grid_engine.close()
                    row.append(f"m={margin:.2f}: P {p:.2f} R {r:.2f}")
                print(f"t={threshold:.2f}  " + "  ".join(row))


if __name__ == "__main__":
    main()
