"""Brightcove client behaviours that need a bespoke simulator world."""

from __future__ import annotations

import math
from datetime import date

import pytest

from video_analytics.brightcove.client import BrightcoveClient
from video_analytics.sandbox import SimulatorServer
from video_analytics.sandbox.brightcove.simulator import BrightcoveSimulator, BrightcoveWorld


@pytest.fixture(scope="module")
def big_account():
    """One account of 350 videos: four CMS pages."""
    world = BrightcoveWorld(accounts={"news": "111"}, videos_per_account=350, today=date(2024, 3, 1))
    simulator = BrightcoveSimulator(world)
    simulator.knobs.rate_limit_enabled = False
    with SimulatorServer(simulator.app) as server:
        env = simulator.env(server.base_url)
        client = BrightcoveClient(
            env["BRIGHTCOVE_CLIENT_ID"],
            env["BRIGHTCOVE_CLIENT_SECRET"],
            oauth_url=env["BRIGHTCOVE_OAUTH_URL"],
            cms_url=env["BRIGHTCOVE_CMS_URL"],
            analytics_url=env["BRIGHTCOVE_ANALYTICS_URL"],
        )
        with client:
            yield simulator, client


def test_short_pages_mid_listing_do_not_end_it(big_account):
    simulator, client = big_account
    simulator.knobs.short_pages = True
    try:
        videos = client.list_videos("111")
    finally:
        simulator.knobs.short_pages = False
    total = len(simulator.world.catalogs["111"].videos)
    assert len(videos) >= total - math.ceil(total / 100), "only the one video held back per page is missing"
    assert len({v["id"] for v in videos}) == len(videos)


def test_overestimated_count_ends_on_the_first_short_page_past_it(big_account):
    simulator, client = big_account
    simulator.knobs.count_overestimate = 500
    simulator.stats.reset()
    try:
        videos = client.list_videos("111")
    finally:
        simulator.knobs.count_overestimate = 0
    assert len(videos) == len(simulator.world.catalogs["111"].videos)
    pages = simulator.stats.snapshot()["requests"]
    # four pages of videos, one empty page past the end, one `-updated_at` catch-up page
    assert pages.get("cms.videos", 0) == 6
