"""Generic pagination loops; vendor modules supply a ``fetch`` callable that does one request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def iter_offset_pages(
    fetch: Callable[[int, int], list[Any]], limit: int, *, total: int | None = None
) -> Iterator[list[Any]]:
    """Yield ``fetch(offset, limit)`` pages until a short/empty page or ``total`` items are seen.

    A short page ends the loop because offset APIs (Brightcove, Wistia) return fewer than ``limit``
    items only on the last page; trusting that saves one empty round trip per listing.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    offset = 0
    while total is None or offset < total:
        page = fetch(offset, limit)
        if not page:
            return
        yield page
        offset += len(page)
        if len(page) < limit:
            return


def iter_numbered_pages(
    fetch: Callable[[int], list[Any]], per_page: int, *, first_page: int = 1, max_page: int | None = None
) -> Iterator[list[Any]]:
    """Yield ``fetch(page)`` for page numbers from ``first_page`` until a short/empty page.

    ``max_page`` guards against APIs that cap paging (TMDB stops at page 500) or never return short.
    """
    if per_page <= 0:
        raise ValueError("per_page must be positive")
    page_no = first_page
    while max_page is None or page_no <= max_page:
        page = fetch(page_no)
        if not page:
            return
        yield page
        if len(page) < per_page:
            return
        page_no += 1
