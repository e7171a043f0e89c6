"""The Brightcove resource: credentials from the environment, endpoints overridable for the sandbox."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from video_analytics.brightcove.client import (
    PRODUCTION_ANALYTICS_URL,
    PRODUCTION_CMS_URL,
    PRODUCTION_OAUTH_URL,
    BrightcoveClient,
)
from video_analytics.http import RetryPolicy
from video_analytics.settings import Settings


class BrightcoveResource(dg.ConfigurableResource):
    """OAuth client credentials and the three Brightcove base URLs; `accounts` maps channel -> id."""

    client_id: str
    client_secret: str
    accounts: dict[str, str]
    oauth_url: str = PRODUCTION_OAUTH_URL
    cms_url: str = PRODUCTION_CMS_URL
    analytics_url: str = PRODUCTION_ANALYTICS_URL
    analytics_page_limit: int = Field(
        default=100_000, description="Rows per analytics response before a date range is split."
    )
    max_attempts: int = Field(default=6, description="HTTP attempts per request before giving up.")
    retry_base_delay: float = Field(
        default=0.5, description="First backoff wait in seconds; doubles per retry."
    )

    def client(self) -> BrightcoveClient:
        return BrightcoveClient(
            self.client_id,
            self.client_secret,
            oauth_url=self.oauth_url,
            cms_url=self.cms_url,
            analytics_url=self.analytics_url,
            analytics_page_limit=self.analytics_page_limit,
            retry=RetryPolicy(max_attempts=self.max_attempts, base_delay=self.retry_base_delay),
        )


def build_resources(settings: Settings) -> dict[str, BrightcoveResource]:
    """Credentials stay EnvVars (never in run config or logs); endpoints may point at the sandbox."""
    brightcove = settings.brightcove
    urls = {
        "oauth_url": brightcove.oauth_url,
        "cms_url": brightcove.cms_url,
        "analytics_url": brightcove.analytics_url,
    }
    return {
        "brightcove": BrightcoveResource(
            client_id=dg.EnvVar("BRIGHTCOVE_CLIENT_ID"),
            client_secret=dg.EnvVar("BRIGHTCOVE_CLIENT_SECRET"),
            accounts=brightcove.accounts,
            **{name: url for name, url in urls.items() if url},
        )
    }
