"""Brightcove CMS and Analytics API client (no Dagster here).

Two things differ from the original scripts on purpose:

* Analytics is fetched in bulk per account and date range (`dimensions=video,date`), not with two
  calls per video. A range whose rows do not fit one page is split into shorter date windows rather
  than paged with `offset`: Brightcove documents that rows tied on the sort key may repeat or vanish
  across offset pages, and a window that fits one response cannot suffer from that.
* CMS listing asks `/counts/videos` first, pages with a stable sort, de-duplicates by id and re-reads
  one page sorted by `-updated_at` to catch videos that moved while paging (Brightcove's advice).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from video_analytics.http import (
    ApiClient,
    OAuthClientCredentials,
    ResponseFormatError,
    RetryPolicy,
)

log = logging.getLogger(__name__)

PRODUCTION_OAUTH_URL = "https://oauth.brightcove.com/v4"
PRODUCTION_CMS_URL = "https://cms.api.brightcove.com/v1"
PRODUCTION_ANALYTICS_URL = "https://analytics.api.brightcove.com/v1"

CMS_PAGE_SIZE = 100  # the CMS maximum
#: Metrics of the runbook's daily CSV, asked for with the `video,date` dimensions.
COUNT_METRICS = ("video_view", "video_impression")
RATE_METRICS = (
    "play_rate",
    "engagement_score",
    "video_engagement_1",
    "video_engagement_25",
    "video_engagement_50",
    "video_engagement_75",
    "video_engagement_100",
    "video_percent_viewed",
    "video_seconds_viewed",
)
DAILY_METRIC_FIELDS = (*COUNT_METRICS, *RATE_METRICS)


@dataclass(frozen=True)
class AnalyticsQuery:
    """One analytics report: dimensions and fields over an inclusive date range for one account."""

    account_id: str
    dimensions: tuple[str, ...]
    fields: tuple[str, ...]
    start: date
    end: date

    def params(self, limit: int | str, sort: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "accounts": self.account_id,
            "dimensions": ",".join(self.dimensions),
            "fields": ",".join(dict.fromkeys((*self.dimensions, *self.fields))),
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "limit": limit,
        }
        if sort:
            params["sort"] = sort
        return params

    def split(self, parts: int) -> list[AnalyticsQuery]:
        """The same query over `parts` consecutive, roughly equal date windows."""
        days = (self.end - self.start).days + 1
        parts = max(2, min(parts, days))
        size = math.ceil(days / parts)
        windows = []
        for first in range(0, days, size):
            start = self.start + timedelta(days=first)
            end = min(self.end, start + timedelta(days=size - 1))
            windows.append(AnalyticsQuery(self.account_id, self.dimensions, self.fields, start, end))
        return windows


class BrightcoveClient:
    """Typed access to the endpoints the reporting needs, with shared OAuth and counters."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        oauth_url: str = PRODUCTION_OAUTH_URL,
        cms_url: str = PRODUCTION_CMS_URL,
        analytics_url: str = PRODUCTION_ANALYTICS_URL,
        analytics_page_limit: int = 100_000,
        retry: RetryPolicy | None = None,
        cms_rate_limit: float = 8.0,
    ) -> None:
        retry = retry or RetryPolicy()
        self.auth = OAuthClientCredentials(
            f"{oauth_url.rstrip('/')}/access_token", client_id, client_secret, style="basic"
        )
        # The CMS allows < 10 requests/s and 20 concurrent calls per account; Analytics processes one
        # request per account at a time, so more concurrency there only queues server-side.
        self.cms = ApiClient(
            "brightcove-cms",
            cms_url,
            auth=self.auth,
            rate_limit=cms_rate_limit,
            max_concurrency=8,
            retry=retry,
        )
        self.analytics = ApiClient(
            "brightcove-analytics", analytics_url, auth=self.auth, max_concurrency=5, retry=retry
        )
        self.analytics_page_limit = analytics_page_limit

    def close(self) -> None:
        self.cms.close()
        self.analytics.close()

    def __enter__(self) -> BrightcoveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def counters(self) -> dict[str, int]:
        """Requests, retries, throttles and bytes of both APIs (token calls included), summed."""
        totals: dict[str, int] = {}
        for counters in (self.cms.counters, self.analytics.counters):
            for key, value in counters.as_metadata().items():
                totals[key] = totals.get(key, 0) + value
        return totals

    # -- CMS -----------------------------------------------------------------------------------

    def count_videos(self, account_id: str, q: str | None = None) -> int:
        body = self.cms.get_json(f"accounts/{account_id}/counts/videos", params=_q(q))
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise _bad_shape("brightcove-cms", "counts/videos", "an object with 'count'")
        return body["count"]

    def list_videos(self, account_id: str, q: str | None = None) -> list[dict[str, Any]]:
        """Every video of the account matching `q`, each once."""
        expected = self.count_videos(account_id, q)
        videos: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            # Pages may hold fewer than `limit` items mid-listing, so a short page ends the listing only
            # once the count is reached (an empty one always does); past the count, full pages go on.
            page = self._videos_page(account_id, q, "created_at", offset)
            videos.update((v["id"], v) for v in page)
            offset += CMS_PAGE_SIZE
            if not page or (offset >= expected and len(page) < CMS_PAGE_SIZE):
                break
        # Videos edited while we paged can move between pages: re-read the most recently updated.
        videos.update((v["id"], v) for v in self._videos_page(account_id, q, "-updated_at", 0))
        log.info(
            "brightcove account %s: %d videos (count endpoint said %d)", account_id, len(videos), expected
        )
        return list(videos.values())

    def _videos_page(self, account_id: str, q: str | None, sort: str, offset: int) -> list[dict[str, Any]]:
        params = {**_q(q), "limit": CMS_PAGE_SIZE, "offset": offset, "sort": sort}
        page = self.cms.get_json(f"accounts/{account_id}/videos", params=params)
        if not isinstance(page, list) or not all(isinstance(v, dict) and "id" in v for v in page):
            raise _bad_shape("brightcove-cms", f"accounts/{account_id}/videos", "an array of videos")
        return page

    # -- Analytics -----------------------------------------------------------------------------

    def report(self, query: AnalyticsQuery) -> list[dict[str, Any]]:
        """All rows of `query`, fetched in date windows that each fit one response."""
        body = self._data(query.params(self.analytics_page_limit))
        total, items = body["item_count"], body["items"]
        if total <= len(items):
            return items
        if query.start == query.end:
            # One day with more rows than a page: `limit=all` is Brightcove's own fix for tied rows.
            return self._data(query.params("all"))["items"]
        parts = math.ceil(total / (self.analytics_page_limit * 0.8))
        log.info(
            "brightcove analytics %s %s..%s: %d rows, split into %d windows",
            query.account_id,
            query.start,
            query.end,
            total,
            parts,
        )
        return [row for window in query.split(parts) for row in self.report(window)]

    def _data(self, params: dict[str, Any]) -> dict[str, Any]:
        body = self.analytics.get_json("data", params=params)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("items"), list)
            or not isinstance(body.get("item_count"), int)
        ):
            raise _bad_shape("brightcove-analytics", "data", "{item_count, items, summary}")
        return body

    def daily_metrics(self, account_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Per video and day: the runbook's 11 metrics."""
        return self.report(AnalyticsQuery(account_id, ("video", "date"), DAILY_METRIC_FIELDS, start, end))

    def daily_device_views(self, account_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Per video, day and device type: views."""
        query = AnalyticsQuery(account_id, ("video", "date", "device_type"), ("video_view",), start, end)
        return self.report(query)

    def daily_views(self, account_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Per video and day: views only (for the last-viewed window)."""
        return self.report(AnalyticsQuery(account_id, ("video", "date"), ("video_view",), start, end))


def _bad_shape(api: str, endpoint: str, expected: str) -> ResponseFormatError:
    return ResponseFormatError(api, "GET", endpoint, status=200, detail=f"expected {expected}")


def _q(q: str | None) -> dict[str, str]:
    return {"q": q} if q else {}
