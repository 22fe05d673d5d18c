"""How wide an HNSW search looks: the candidate list grows with the index, on PostgreSQL (store/postgres/store.py)
and in the SQLite store's own graph (store/vector_index.py)."""

from __future__ import annotations

from memvault.store import vector_index
from memvault.store.postgres.store import EF_SEARCH_BASE, ef_search_for
from memvault.store.vector_index import search_breadth


def test_a_small_index_is_searched_with_the_base_candidate_list() -> None:
    for rows in (0, -1, 1_000, 100_000):  # reltuples is -1 for a table never analyzed
        assert ef_search_for(rows, 10) == EF_SEARCH_BASE


def test_the_candidate_list_grows_with_the_square_root_of_the_index() -> None:
    assert ef_search_for(400_000, 10) == 2 * EF_SEARCH_BASE
    assert ef_search_for(1_000_000, 10) == round(EF_SEARCH_BASE * 10**0.5)
    assert ef_search_for(1_000_000, 10) > ef_search_for(500_000, 10) > ef_search_for(200_000, 10)


def test_the_candidate_list_is_never_below_k_nor_above_what_pgvector_allows() -> None:
    assert ef_search_for(1_000, 500) == 500
    assert ef_search_for(10**10, 10) == 1_000
    assert ef_search_for(10**10, 5_000) == 1_000


def test_the_sqlite_graph_looks_wider_in_a_larger_project() -> None:
    assert search_breadth(1_000, 10) == search_breadth(100_000, 10) == vector_index.EF_SEARCH
    assert search_breadth(400_000, 10) == 2 * vector_index.EF_SEARCH
    assert search_breadth(1_000_000, 10) == round(vector_index.EF_SEARCH * 10**0.5)
    assert search_breadth(1_000, 256) == 256  # never fewer candidates than vectors asked for
