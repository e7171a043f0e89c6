from __future__ import annotations

import pytest

from video_analytics.http import iter_numbered_pages, iter_offset_pages


def _offset_source(n: int, calls: list):
    items = list(range(n))

    def fetch(offset: int, limit: int) -> list[int]:
        calls.append((offset, limit))
        return items[offset : offset + limit]

    return fetch


@pytest.mark.parametrize(
    ("n", "expected_calls"),
    [
        (0, [(0, 10)]),
        (7, [(0, 10)]),
        (25, [(0, 10), (10, 10), (20, 10)]),
        (20, [(0, 10), (10, 10), (20, 10)]),  # exact multiple: one empty page ends it
    ],
)
def test_offset_pages_stop_on_short_or_empty(n, expected_calls):
    calls: list = []
    pages = list(iter_offset_pages(_offset_source(n, calls), 10))
    assert [x for page in pages for x in page] == list(range(n))
    assert calls == expected_calls


def test_offset_pages_stop_at_total():
    calls: list = []
    pages = list(iter_offset_pages(_offset_source(100, calls), 10, total=20))
    assert len(pages) == 2
    assert calls == [(0, 10), (10, 10)]


def test_offset_pages_total_zero_fetches_nothing():
    calls: list = []
    assert list(iter_offset_pages(_offset_source(5, calls), 10, total=0)) == []
    assert calls == []


def _numbered_source(n: int, per_page: int, calls: list):
    def fetch(page: int) -> list[int]:
        calls.append(page)
        start = (page - 1) * per_page
        return list(range(n))[start : start + per_page]

    return fetch


def test_numbered_pages_short_page():
    calls: list = []
    pages = list(iter_numbered_pages(_numbered_source(45, 20, calls), 20))
    assert [len(p) for p in pages] == [20, 20, 5]
    assert calls == [1, 2, 3]


def test_numbered_pages_empty_and_max_page():
    calls: list = []
    assert list(iter_numbered_pages(_numbered_source(40, 20, calls), 20)) != []
    assert calls == [1, 2, 3]
    calls.clear()
    pages = list(iter_numbered_pages(_numbered_source(1000, 20, calls), 20, max_page=3))
    assert len(pages) == 3 and calls == [1, 2, 3]


def test_numbered_pages_first_page_zero():
    pages = list(iter_numbered_pages(lambda p: [p] * 2 if p < 2 else [p], 2, first_page=0))
    assert pages == [[0, 0], [1, 1], [2]]


def test_paging_validates_sizes():
    with pytest.raises(ValueError):
        list(iter_offset_pages(lambda o, n: [], 0))
    with pytest.raises(ValueError):
        list(iter_numbered_pages(lambda p: [], 0))
