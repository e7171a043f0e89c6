"""Sandbox only: a video mapping file for the demo, whose simulated platforms share no titles.

Real users publish the same programme on several platforms and list it in their mapping file; the
simulators invent unrelated catalogues, so the demo pairs each platform's most viewed videos rank by
rank ("programme-01" = the top video of every platform) to show cross-platform content in the
tables, the views and the report. Production never imports this module.
"""

from __future__ import annotations

import polars as pl

from video_analytics.storage.parquet import read_table, write_bytes_atomic

PROGRAMMES = 8
#: platform -> (lake table, video id column, views column)
TOP_VIDEOS = {
    "brightcove": ("daily_video_metrics", "video_id", "video_view"),
    "dailymotion": ("dm_daily_video_stats", "video_id", "views"),
    "wistia": ("fact_engagements_byday", "media_id", "play_count"),
    "agora": ("agora_video_daily_stats", "x_tpmid", "views"),
}
HEADER = "# Demo mapping written by `video-analytics demo`: the sandbox's platforms share no titles.\n"


def _top(lake_root: str, table: str, video: str, views: str) -> list[str]:
    try:
        frame = read_table(lake_root, table)
    except FileNotFoundError:
        return []
    if frame.height == 0:
        return []
    ranked = frame.group_by(video).agg(pl.col(views).sum()).sort([views, video], descending=[True, False])
    return [str(v) for v in ranked[video].head(PROGRAMMES)]


def demo_mapping_csv(lake_root: str) -> str:
    rows = ["content_id,platform,video_id"]
    for platform, (table, video, views) in TOP_VIDEOS.items():
        for rank, video_id in enumerate(_top(lake_root, table, video, views), start=1):
            rows.append(f"programme-{rank:02d},{platform},{video_id}")
    return HEADER + "\n".join(rows) + "\n"


def write_demo_mapping(lake_root: str, path: str) -> None:
    write_bytes_atomic(path, demo_mapping_csv(lake_root).encode("utf-8"))
