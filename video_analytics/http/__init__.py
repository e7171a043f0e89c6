"""Shared HTTP layer: one retrying, rate-limited, auth-aware client for every vendor API."""

from video_analytics.http.auth import Auth, BearerToken, OAuthClientCredentials, QueryParamKey
from video_analytics.http.client import ApiClient
from video_analytics.http.errors import (
    ApiError,
    AuthError,
    ResponseFormatError,
    ThrottledError,
    redact,
)
from video_analytics.http.paging import iter_numbered_pages, iter_offset_pages
from video_analytics.http.ratelimit import TokenBucket
from video_analytics.http.retry import RequestCounters, RetryPolicy, parse_retry_after

__all__ = [
    "ApiClient",
    "ApiError",
    "Auth",
    "AuthError",
    "BearerToken",
    "OAuthClientCredentials",
    "QueryParamKey",
    "RequestCounters",
    "ResponseFormatError",
    "RetryPolicy",
    "ThrottledError",
    "TokenBucket",
    "iter_numbered_pages",
    "iter_offset_pages",
    "parse_retry_after",
    "redact",
]
