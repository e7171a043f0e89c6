"""Cross-platform assets: `video_identity`, `video_daily_performance` and the daily HTML report.

Bodies only wire lake inputs to the pure functions of `conform`, `identity` and `report`.

Functions import polars and those modules where they run: every process loads this module with the
definitions, and only the steps need them. The assets return polars DataFrames; their signatures do
not say so, because Dagster resolves them when the asset is defined (other functions quote theirs).
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import dagster as dg

from video_analytics.checks import unique_check
from video_analytics.partitions import daily_partitions, partition_days
from video_analytics.storage.preview import markdown_preview
from video_analytics.unified.publish import HISTORY_DAYS, write_report
from video_analytics.unified.resources import CrossPlatformResource

if TYPE_CHECKING:
    import polars as pl

GROUP = "unified"
KINDS = {"polars", "parquet"}
#: Catalogues the daily table joins to: a refresh of one must not recompute every day since 2023.
CATALOGUES = dg.AssetSelection.assets("video_identity", "wistia_dim_media")
MISSING_OK = {"allow_missing_partitions": True}  # a source without that day contributes no rows

# -- video identity ----------------------------------------------------------------------------------

IDENTITY_CHECKS = [
    dg.AssetCheckSpec("one_content_per_video", asset="video_identity", blocking=True),
    dg.AssetCheckSpec("explicit_mappings_applied", asset="video_identity"),
]


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    deps=[dg.AssetKey("dm_daily_video_stats"), dg.AssetKey("agora_video_daily_stats")],
    check_specs=IDENTITY_CHECKS,
    description="Every video of every platform with one content id across platforms: from the mapping "
    "file (explicit), else by normalized title and duration (labelled with method and confidence).",
)
def video_identity(
    context: dg.AssetExecutionContext,
    cross_platform: CrossPlatformResource,
    cms_videos,
    wistia_dim_media,
    tmdb_movies,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    from video_analytics.unified import identity

    mapping, source = cross_platform.mapping()
    catalogues = [
        identity.brightcove_catalogue(cms_videos),
        identity.dailymotion_catalogue(cross_platform.lake_table("dm_daily_video_stats")),
        identity.wistia_catalogue(wistia_dim_media),
        identity.agora_catalogue(cross_platform.lake_table("agora_video_daily_stats")),
    ]
    frame = identity.video_identity(catalogues, mapping, tmdb_movies, cross_platform.tolerance)
    context.log.info(f"video_identity: {frame.height} videos, mapping file {source or '(none)'}")
    yield unique_check("one_content_per_video", frame, ["platform", "video_id"])
    yield _explicit_check(frame, mapping)
    yield dg.Output(frame, metadata=_identity_metadata(frame, source))


def _explicit_check(frame: "pl.DataFrame", mapping: "pl.DataFrame") -> dg.AssetCheckResult:
    import polars as pl

    from video_analytics.unified import identity

    videos = mapping.filter(pl.col("platform") != "tmdb")
    applied = videos.join(
        frame.filter(identity_method=identity.EXPLICIT), on=["platform", "video_id", "content_id"], how="semi"
    )
    return dg.AssetCheckResult(
        check_name="explicit_mappings_applied",
        passed=applied.height == videos.height,
        metadata={"mapped_videos": videos.height, "applied": applied.height},
    )


def _identity_metadata(frame: "pl.DataFrame", source: str) -> dict:
    import polars as pl

    methods = dict(frame.group_by("identity_method").len().iter_rows())
    shared = frame.group_by("content_id").agg(pl.col("platform").n_unique()).filter(pl.col("platform") > 1)
    linked = frame.filter(pl.col("content_id").is_in(shared["content_id"].implode())).sort("content_id")
    return {
        "videos": frame.height,
        "contents": frame["content_id"].n_unique(),
        "cross_platform_contents": shared.height,
        **{f"videos_{method.replace('+', '_')}": int(n) for method, n in methods.items()},
        "tmdb_matches": frame["tmdb_movie_id"].drop_nulls().len(),
        "mapping_file": source or "(none)",
        "cross_platform_preview": dg.MetadataValue.md(
            markdown_preview(
                linked.select("content_id", "platform", "video_id", "title", "identity_method"), 10
            )
        ),
    }


# -- the conformed daily table ---------------------------------------------------------------------


def when_a_source_day_lands() -> dg.AutomationCondition:
    """Recompute a day whenever one of its source days lands (any day, not only the latest), so each
    platform shows up as soon as it has data; a later source recomputes the day again (idempotent).
    A refreshed catalogue does not: after a mapping change, backfill the days you want re-labelled."""
    condition = dg.AutomationCondition
    landed = condition.any_deps_updated().ignore(CATALOGUES).since_last_handled()
    return (landed & ~condition.any_deps_in_progress() & ~condition.in_progress()).with_label(
        "when a source day lands"
    )


def _missing_ok(key: str) -> dg.AssetIn:
    return dg.AssetIn(key, metadata=MISSING_OK)


PERFORMANCE_CHECKS = [
    dg.AssetCheckSpec("unique_platform_video_day", asset="video_daily_performance", blocking=True),
    dg.AssetCheckSpec("views_match_sources", asset="video_daily_performance", blocking=True),
]


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    partitions_def=daily_partitions(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={
        "brightcove": _missing_ok("daily_video_metrics"),
        "dailymotion": _missing_ok("dm_daily_video_stats"),
        "wistia": _missing_ok("wistia_fact_engagements_byday"),
        "wistia_events": _missing_ok("wistia_fact_events"),
        "wistia_media": dg.AssetIn("wistia_dim_media"),
        "agora": _missing_ok("agora_video_daily_stats"),
        "identity": dg.AssetIn("video_identity"),
    },
    check_specs=PERFORMANCE_CHECKS,
    automation_condition=when_a_source_day_lands(),
    description="One row per platform, video and day: views, unique viewers, watch time, average view "
    "duration, completion, play rate and engagement in the same names and units on every platform, "
    "with content id, Agora QoE beside it and lineage (source_table, source_partition).",
)
def video_daily_performance(
    context: dg.AssetExecutionContext,
    brightcove,
    dailymotion,
    wistia,
    wistia_events,
    wistia_media,
    agora,
    identity,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    from video_analytics.unified import conform

    sources = {
        "brightcove": conform.brightcove_daily(brightcove),
        "dailymotion": conform.dailymotion_daily(dailymotion),
        "wistia": conform.wistia_daily(wistia, wistia_media, wistia_events),
        "agora": conform.agora_daily(agora),
    }
    frame = conform.conformed_daily(sources, identity, conform.agora_qoe(agora))
    days = [d.isoformat() for d in partition_days(context)]
    for platform, rows in sources.items():
        present = set(rows["source_partition"].unique().to_list())
        if missing := [d for d in days if d not in present]:
            context.log.warning(
                f"{platform}: no rows for {', '.join(missing)} in {conform.SOURCE_TABLES[platform]}"
            )
    yield unique_check("unique_platform_video_day", frame, ["date", "platform", "account", "video_id"])
    raw = {"brightcove": brightcove, "dailymotion": dailymotion, "wistia": wistia, "agora": agora}
    yield _totals_check(frame, conform.source_totals(raw))
    yield dg.Output(frame, metadata=_performance_metadata(frame))


def _totals_check(frame: "pl.DataFrame", expected: "pl.DataFrame") -> dg.AssetCheckResult:
    """Per platform and day, the conformed views equal the source table's (nothing lost or doubled)."""
    import polars as pl

    totals = [t.group_by("platform", "date").agg(pl.col("views").sum()) for t in (expected, frame)]
    diff = totals[0].join(totals[1], on=["platform", "date"], how="full", suffix="_conformed", coalesce=True)
    wrong = diff.filter(pl.col("views").fill_null(0) != pl.col("views_conformed").fill_null(0))
    return dg.AssetCheckResult(
        check_name="views_match_sources",
        passed=wrong.height == 0,
        metadata={
            "platform_days": diff.height,
            "mismatched": wrong.height,
            "examples": ", ".join(f"{platform} {day}" for platform, day, *_ in wrong.head(5).iter_rows()),
        },
    )


def _performance_metadata(frame: "pl.DataFrame") -> dict:
    import polars as pl

    from video_analytics.unified import conform

    views = dict(frame.group_by("platform").agg(pl.col("views").sum()).iter_rows())
    return {
        "total_views": int(frame["views"].sum()) if frame.height else 0,
        **{f"views_{p}": int(views.get(p, 0)) for p in conform.PLATFORMS},
        "rows_with_qoe": frame["qoe_rebuffer_percentage"].drop_nulls().len(),
        "cross_platform_rows": frame.filter(~pl.col("identity_method").is_in(["native", "unmatched"])).height,
    }


# -- the report --------------------------------------------------------------------------------------


@dg.asset(
    group_name=GROUP,
    kinds={"html"},
    partitions_def=daily_partitions(),
    ins={
        "history": dg.AssetIn(
            "video_daily_performance",
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(HISTORY_DAYS - 1)),
            metadata=MISSING_OK,
        )
    },
    automation_condition=when_a_source_day_lands(),
    description="The daily cross-platform HTML report (views by platform, top content, QoE trends), "
    "self-contained and offline; the materialization links the file.",
)
def video_performance_report(
    context: dg.AssetExecutionContext, cross_platform: CrossPlatformResource, history
) -> dg.MaterializeResult:
    import polars as pl

    from video_analytics.unified.report import top_content

    written = {}
    for day in partition_days(context):
        window = history.filter(pl.col("date").is_between(day - timedelta(days=HISTORY_DAYS - 1), day))
        written[day] = write_report(window, day, cross_platform.reports)
        context.log.info(f"report for {day}: {written[day]}")
    last_day, path = max(written.items())
    top = top_content(history.filter(pl.col("date") == last_day), limit=5)
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(path),
            "report_url": dg.MetadataValue.url(path if "://" in path else f"file://{path}"),
            "dagster/uri": path,
            "reports_written": len(written),
            "top_content": dg.MetadataValue.md(
                "\n".join(
                    f"{i}. {title}: {sum(v for _, v in parts):,.0f} views"
                    for i, (title, parts) in enumerate(top, 1)
                )
                or "(no rows)"
            ),
        }
    )


assets = [video_identity, video_daily_performance, video_performance_report]
