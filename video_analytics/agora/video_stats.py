"""Stage 4 of Agora: session stats -> per video and day quality-of-experience aggregates.

In: `agora_session_stats` rows (`stream_walk.session_stats` plus `date`), any number of days. Out
(`video_daily_stats`): one row per video (`x_tpmid`) and day, the rows of `agora_video_daily_stats`:
views, unique clients, startup time percentiles, rebuffering, failure and completion percentages,
watch and playing hours.

Why a stage of its own: it is the first table a dashboard reads (the per-stream rows are millions a
day), and it needs only the finished session stats, so it is recomputed from the lake without
reading a log again.
"""

from __future__ import annotations

import polars as pl


def video_daily_stats(sessions: pl.DataFrame) -> pl.DataFrame:
    """Per video (`x_tpmid`) and day: Mux/Conviva-style aggregates, ratios of sums, percentiles of
    startup over started views. Failure/EBVS/completion percentages use all views as denominator."""
    watch = pl.col("watch_time").sum()

    def percent(flag: str) -> pl.Expr:
        return pl.col(flag).cast(pl.Float64).mean() * 100.0

    return (
        sessions.group_by("date", pl.col("media_id").alias("x_tpmid"))
        .agg(
            pl.col("program_title").first(ignore_nulls=True),
            pl.col("producer").first(ignore_nulls=True),
            pl.col("title").first(ignore_nulls=True),
            pl.len().alias("views"),
            pl.col("x_client_id").n_unique().alias("unique_clients"),
            pl.col("startup_time_ms").median().alias("startup_time_median_ms"),
            pl.col("startup_time_ms").quantile(0.95, interpolation="linear").alias("startup_time_p95_ms"),
            pl.when(watch > 0)
            .then(pl.col("rebuffer_duration").sum() / watch * 100.0)
            .alias("rebuffer_percentage"),
            pl.when(watch > 0)
            .then(pl.col("rebuffer_count").sum() / (watch / 60.0))
            .alias("rebuffer_frequency_per_minute"),
            percent("video_start_failure").alias("video_start_failure_percentage"),
            percent("exit_before_video_start").alias("exits_before_video_start_percentage"),
            percent("playback_failure").alias("playback_failure_percentage"),
            percent("completed").alias("completion_percentage"),
            (watch / 3600.0).alias("watch_hours"),
            (pl.col("playing_time").sum() / 3600.0).alias("playing_hours"),
        )
        .sort("date", "x_tpmid")
    )
