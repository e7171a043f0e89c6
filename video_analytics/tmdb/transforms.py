"""Pure polars transforms for TMDB: movies, daily snapshots and the momentum/virality metrics.

Where we deliberately differ from the original (ORIGINALS.md §5):

* **Windows over history, then filter.** The original filtered to the calculation date *before*
  its window functions ran, so every lag was NULL, every viral coefficient NULL and every trend
  'Stable'. `movie_metrics` looks back over the snapshots first and keeps the target days after.
* **Calendar days, not rows.** The original's `LAG(x, 7)` was "7 snapshots ago", which after a gap is
  a different day. Here a lag of n days is the snapshot dated exactly n days earlier; if that day has
  no snapshot the metric is null, never a number computed against the wrong day. The 7-day moving
  average and volatility need all 7 days.
* **Null stays null.** DuckDB's and polars' greatest/least ignore NULLs (BigQuery's return NULL), so a
  literal port would turn a missing coefficient into 0. A null input yields a null coefficient and a
  null category here; the original's momentum CASE put a NULL change (a first day) in 'Falling'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from video_analytics.tmdb.thresholds import LOOKBACK_DAYS, Thresholds

MOVIE_SCHEMA = {
    "movie_id": pl.Int64,
    "title": pl.String,
    "original_title": pl.String,
    "original_language": pl.String,
    "overview": pl.String,
    "release_date": pl.Date,
    "genres": pl.List(pl.String),
    "genre_ids": pl.List(pl.Int64),
    "budget": pl.Int64,
    "revenue": pl.Int64,
    "runtime": pl.Int64,
    "status": pl.String,
    "tagline": pl.String,
    "imdb_id": pl.String,
    "adult": pl.Boolean,
    "popularity": pl.Float64,
    "vote_count": pl.Int64,
    "vote_average": pl.Float64,
    "tracked_reason": pl.String,
    "popularity_rank": pl.Int64,
    "updated_at": pl.Datetime("us", "UTC"),
}
SNAPSHOT_SCHEMA = {
    "movie_id": pl.Int64,
    "snapshot_date": pl.Date,
    "popularity": pl.Float64,
    "vote_count": pl.Int64,
    "vote_average": pl.Float64,
    "popularity_rank": pl.Int64,
    "source": pl.String,
    "ingestion_timestamp": pl.Datetime("us", "UTC"),
}
MOMENTUM_CATEGORIES = ("Surging", "Rising", "Stable", "Declining", "Falling")
TREND_CATEGORIES = ("Viral", "Rising", "Stable", "Declining")
VIRALITY_CATEGORIES = ("Extremely Viral", "Highly Viral", "Moderately Viral", "Slightly Viral", "Not Viral")


class MalformedMovieError(ValueError):
    """A TMDB movie object lacks a field we need or carries one of the wrong type."""


# -- inputs ----------------------------------------------------------------------------------------


def _number(movie: dict[str, Any], key: str, kind: type) -> Any:
    """TMDB numbers, tolerating the old string-typed popularity; anything else is a clear error."""
    value = movie.get(key)
    if value is None:
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        raise MalformedMovieError(f"movie {movie.get('id')}: {key}={value!r} is not a number") from None


def _release_date(movie: dict[str, Any]) -> date | None:
    raw = movie.get("release_date") or ""
    try:
        return date.fromisoformat(raw) if raw else None  # TMDB sends "" for unknown dates
    except ValueError:
        raise MalformedMovieError(f"movie {movie.get('id')}: release_date={raw!r} is not a date") from None


def _movie_id(movie: Any) -> int:
    if not isinstance(movie, dict) or not isinstance(movie.get("id"), int):
        raise MalformedMovieError(f"not a TMDB movie object: {str(movie)[:80]}")
    return movie["id"]


def movies_frame(
    details: Iterable[dict[str, Any]], reasons: dict[int, str], ranks: dict[int, int], updated_at: datetime
) -> pl.DataFrame:
    """The `movies` dimension: one row per movie from `/movie/{id}` objects."""
    rows = []
    for movie in details:
        movie_id = _movie_id(movie)
        genres = movie.get("genres") or []
        rows.append(
            {
                "movie_id": movie_id,
                "title": movie.get("title"),
                "original_title": movie.get("original_title"),
                "original_language": movie.get("original_language"),
                "overview": movie.get("overview"),
                "release_date": _release_date(movie),
                "genres": [g.get("name") for g in genres],
                "genre_ids": [g.get("id") for g in genres],
                "budget": _number(movie, "budget", int),
                "revenue": _number(movie, "revenue", int),
                "runtime": _number(movie, "runtime", int),
                "status": movie.get("status"),
                "tagline": movie.get("tagline"),
                "imdb_id": movie.get("imdb_id"),
                "adult": movie.get("adult"),
                "popularity": _number(movie, "popularity", float),
                "vote_count": _number(movie, "vote_count", int),
                "vote_average": _number(movie, "vote_average", float),
                "tracked_reason": reasons.get(movie_id, "tracked"),
                "popularity_rank": ranks.get(movie_id),
                "updated_at": updated_at,
            }
        )
    return pl.DataFrame(rows, schema=MOVIE_SCHEMA).unique("movie_id", keep="first").sort("movie_id")


def snapshot_frame(
    ranked: Sequence[dict[str, Any]], details: Sequence[dict[str, Any]], day: date, ingested_at: datetime
) -> pl.DataFrame:
    """One day's snapshot: movies of the ranked list (with their rank), then detail objects.

    A movie in both keeps the list row; `source` says where each value came from.
    """
    rows = []
    for source, movies in (("list", ranked), ("details", details)):
        for movie in movies:
            rows.append(
                {
                    "movie_id": _movie_id(movie),
                    "snapshot_date": day,
                    "popularity": _number(movie, "popularity", float),
                    "vote_count": _number(movie, "vote_count", int),
                    "vote_average": _number(movie, "vote_average", float),
                    "popularity_rank": movie.get("rank") if source == "list" else None,
                    "source": source,
                    "ingestion_timestamp": ingested_at,
                }
            )
    frame = pl.DataFrame(rows, schema=SNAPSHOT_SCHEMA)
    return frame.unique(["movie_id", "snapshot_date"], keep="first", maintain_order=True).sort("movie_id")


# -- metrics ---------------------------------------------------------------------------------------


def _lagged(snapshots: pl.DataFrame, days: int) -> pl.DataFrame:
    """The snapshot dated exactly `days` days before, keyed by the later date."""
    return snapshots.select(
        "movie_id",
        (pl.col("snapshot_date") + timedelta(days=days)).alias("snapshot_date"),
        pl.col("popularity").alias(f"pop_{days}"),
        pl.col("vote_count").alias(f"votes_{days}"),
    )


def _pct(current: pl.Expr, lag: pl.Expr) -> pl.Expr:
    """BigQuery's SAFE_DIVIDE(x - lag, lag) * 100: null when the lag is null or zero."""
    return pl.when(lag.is_null() | (lag == 0)).then(None).otherwise((current - lag) / lag * 100.0)


def _growth(current: pl.Expr, lag: pl.Expr) -> pl.Expr:
    """The coefficient's growth %: (x - lag) / GREATEST(lag, 1) * 100, null if the lag is null."""
    return (current - lag) / pl.max_horizontal(lag, pl.lit(1.0)) * 100.0


def momentum_status(pct_1d: pl.Expr, t: Thresholds) -> pl.Expr:
    return (
        pl.when(pct_1d.is_null())
        .then(None)
        .when(pct_1d > t.surging)
        .then(pl.lit("Surging"))
        .when(pct_1d > t.rising)
        .then(pl.lit("Rising"))
        .when(pct_1d > t.stable)
        .then(pl.lit("Stable"))
        .when(pct_1d > t.declining)
        .then(pl.lit("Declining"))
        .otherwise(pl.lit("Falling"))
    )


def trend_category(velocity: pl.Expr, change_7d: pl.Expr, t: Thresholds) -> pl.Expr:
    """The original's aggregated rule, in absolute popularity points."""
    return (
        pl.when(velocity.is_null() | change_7d.is_null())
        .then(None)
        .when((velocity > t.trend_viral_velocity) & (change_7d.abs() > t.trend_viral_change))
        .then(pl.lit("Viral"))
        .when(change_7d > t.trend_rising)
        .then(pl.lit("Rising"))
        .when(change_7d < t.trend_declining)
        .then(pl.lit("Declining"))
        .otherwise(pl.lit("Stable"))
    )


def virality_category(coefficient: pl.Expr, t: Thresholds) -> pl.Expr:
    return (
        pl.when(coefficient.is_null())
        .then(None)
        .when(coefficient >= t.extremely_viral)
        .then(pl.lit("Extremely Viral"))
        .when(coefficient >= t.highly_viral)
        .then(pl.lit("Highly Viral"))
        .when(coefficient >= t.moderately_viral)
        .then(pl.lit("Moderately Viral"))
        .when(coefficient >= t.slightly_viral)
        .then(pl.lit("Slightly Viral"))
        .otherwise(pl.lit("Not Viral"))
    )


def movie_metrics(
    snapshots: pl.DataFrame, days: Sequence[date], thresholds: Thresholds | None = None
) -> pl.DataFrame:
    """Per movie and target day: the original's snapshot and aggregated metrics, on calendar days.

    `snapshots` must hold the target days and the 14 days before them (older rows are ignored);
    a movie gets a row on each target day it has a snapshot.
    """
    t = thresholds or Thresholds()
    base = snapshots.select("movie_id", "snapshot_date", "popularity", "vote_count", "vote_average").unique(
        ["movie_id", "snapshot_date"], keep="first"
    )
    wanted = pl.Series("snapshot_date", list(days), dtype=pl.Date)
    frame = base.filter(pl.col("snapshot_date").is_in(wanted.implode()))
    for lag in range(1, LOOKBACK_DAYS + 1):
        frame = frame.join(_lagged(base, lag), on=["movie_id", "snapshot_date"], how="left")
    pop, votes = pl.col("popularity"), pl.col("vote_count").cast(pl.Float64)
    pop1, pop7 = pl.col("pop_1"), pl.col("pop_7")
    votes1, votes7, votes14 = (pl.col(f"votes_{n}").cast(pl.Float64) for n in (1, 7, 14))
    window = [pop, *(pl.col(f"pop_{n}") for n in range(1, 7))]
    full_window = pl.all_horizontal(c.is_not_null() for c in window)
    velocity = (votes - votes7) / 7.0
    coefficient = t.vote_weight * _growth(votes, votes7) + t.popularity_weight * _growth(pop, pop7)
    frame = frame.with_columns(
        pl.col("snapshot_date").alias("calculation_date"),
        (pop - pop1).alias("popularity_change_1d"),
        (pop - pop7).alias("popularity_change_7d"),
        _pct(pop, pop1).alias("popularity_pct_change_1d"),
        _pct(pop, pop7).alias("popularity_pct_change_7d"),
        (votes - votes1).cast(pl.Int64).alias("vote_count_change_1d"),
        (votes - votes7).cast(pl.Int64).alias("vote_count_change_7d"),
        _pct(votes, votes1).alias("vote_count_pct_change_1d"),
        _pct(votes, votes7).alias("vote_count_pct_change_7d"),
        pl.when(full_window).then(pl.mean_horizontal(window)).alias("popularity_7d_ma"),
        pl.when(full_window).then(pl.concat_list(window).list.std(ddof=1)).alias("popularity_volatility_7d"),
        (pop - pop7).alias("popularity_wow_change"),
        _pct(pop, pop7).alias("popularity_wow_pct_change"),
        velocity.alias("vote_velocity_7d"),
        (velocity - (votes7 - votes14) / 7.0).alias("vote_acceleration_7d"),
        pl.when(votes7.is_not_null() & pop7.is_not_null())
        .then(coefficient.clip(0.0, 100.0))
        .alias("viral_coefficient"),
    )
    frame = frame.with_columns(
        momentum_status(pl.col("popularity_pct_change_1d"), t).alias("momentum_status"),
        trend_category(pl.col("vote_velocity_7d"), pl.col("popularity_wow_change"), t).alias(
            "trend_category"
        ),
        virality_category(pl.col("viral_coefficient"), t).alias("virality_category"),
    )
    return frame.select(METRIC_COLUMNS).sort("snapshot_date", "movie_id")


METRIC_COLUMNS = [
    "movie_id",
    "snapshot_date",
    "calculation_date",
    "popularity",
    "vote_count",
    "vote_average",
    "popularity_change_1d",
    "popularity_change_7d",
    "popularity_pct_change_1d",
    "popularity_pct_change_7d",
    "vote_count_change_1d",
    "vote_count_change_7d",
    "vote_count_pct_change_1d",
    "vote_count_pct_change_7d",
    "popularity_7d_ma",
    "popularity_volatility_7d",
    "popularity_wow_change",
    "popularity_wow_pct_change",
    "vote_velocity_7d",
    "vote_acceleration_7d",
    "viral_coefficient",
    "momentum_status",
    "trend_category",
    "virality_category",
]
