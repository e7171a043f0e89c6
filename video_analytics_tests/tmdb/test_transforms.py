"""Pure transforms on a hand-built 21-day history; expected values are worked out by hand below."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from video_analytics.tmdb import transforms as tf

DAY0 = date(2024, 1, 1)
LAST = DAY0 + timedelta(days=20)  # 2024-01-21, the 21st day
NOW = datetime(2024, 1, 22, 2, tzinfo=UTC)


def day(d: int) -> date:
    return DAY0 + timedelta(days=d)


def history() -> pl.DataFrame:
    """Movie 1: every day, popularity 10+d, votes 100+d². Movie 2: the same values but days 13 and 19
    missing. Movie 3: first seen on day 20. Movie 5: popularity halves over a week, votes 0 then 10."""
    rows = []
    for d in range(21):
        rows.append((1, day(d), 10.0 + d, 100 + d * d, 7.0))
        if d not in (13, 19):
            rows.append((2, day(d), 10.0 + d, 100 + d * d, 7.0))
    rows.append((3, day(20), 42.0, 12, 6.5))
    rows += [(5, day(13), 100.0, 0, 5.0), (5, day(19), 60.0, 5, 5.0), (5, day(20), 50.0, 10, 5.0)]
    return pl.DataFrame(
        rows,
        schema={
            "movie_id": pl.Int64,
            "snapshot_date": pl.Date,
            "popularity": pl.Float64,
            "vote_count": pl.Int64,
            "vote_average": pl.Float64,
        },
        orient="row",
    )


@pytest.fixture(scope="module")
def last_day() -> dict[int, dict]:
    frame = tf.movie_metrics(history(), [LAST])
    assert frame["snapshot_date"].unique().to_list() == [LAST]
    return {row["movie_id"]: row for row in frame.to_dicts()}


def test_complete_history_matches_hand_computation(last_day):
    m = last_day[1]
    # popularity: today 30, yesterday 29, a week ago 23; votes: 500, 461, 269 (d=13), 136 (d=6)
    assert m["popularity_change_1d"] == 1.0 and m["popularity_change_7d"] == 7.0
    assert m["popularity_pct_change_1d"] == pytest.approx(100 / 29)
    assert m["popularity_pct_change_7d"] == pytest.approx(700 / 23)
    assert m["vote_count_change_1d"] == 39 and m["vote_count_change_7d"] == 231
    assert m["vote_count_pct_change_7d"] == pytest.approx(23100 / 269)
    assert m["popularity_7d_ma"] == pytest.approx(27.0)  # mean of 24..30
    assert m["popularity_volatility_7d"] == pytest.approx(math.sqrt(28 / 6))  # sample std of 24..30
    assert m["popularity_wow_change"] == 7.0
    assert m["popularity_wow_pct_change"] == pytest.approx(700 / 23)
    assert m["vote_velocity_7d"] == pytest.approx(33.0)  # 231 / 7
    assert m["vote_acceleration_7d"] == pytest.approx(14.0)  # 33 - (269 - 136) / 7
    # 0.6 * 85.8736 + 0.4 * 30.4348 = 63.698
    assert m["viral_coefficient"] == pytest.approx(0.6 * 23100 / 269 + 0.4 * 700 / 23)
    assert m["viral_coefficient"] == pytest.approx(63.698, abs=1e-3)
    assert (m["momentum_status"], m["trend_category"], m["virality_category"]) == (
        "Stable",
        "Rising",
        "Highly Viral",
    )


def test_gaps_give_null_never_a_row_lag(last_day):
    m = last_day[2]  # days 13 and 19 missing: no 1-day lag, no 7-day lag, incomplete 7-day window
    for column in (
        "popularity_change_1d",
        "popularity_pct_change_1d",
        "vote_count_change_1d",
        "popularity_change_7d",
        "vote_count_change_7d",
        "popularity_7d_ma",
        "popularity_volatility_7d",
        "vote_velocity_7d",
        "vote_acceleration_7d",
        "viral_coefficient",
        "momentum_status",
        "trend_category",
        "virality_category",
    ):
        assert m[column] is None, column
    # The original's LAG(popularity, 1) would have used day 18 (28.0) and reported +2.0.
    assert m["popularity"] == 30.0


def test_gap_only_nulls_the_windows_that_touch_it():
    frame = tf.movie_metrics(history(), [day(14)]).filter(pl.col("movie_id") == 2).row(0, named=True)
    assert frame["popularity_change_1d"] is None  # day 13 missing
    assert frame["popularity_change_7d"] == 7.0  # day 7 is there: 24 - 17
    assert frame["vote_velocity_7d"] == pytest.approx(21.0)  # votes 296 (d=14) - 149 (d=7), over 7
    assert frame["vote_acceleration_7d"] == pytest.approx(14.0)  # 21 - (149 - 100 (d=0)) / 7
    assert frame["popularity_7d_ma"] is None  # the window 8..14 lacks day 13


def test_first_day_of_a_movie_is_null_not_falling(last_day):
    m = last_day[3]
    assert m["popularity"] == 42.0 and m["vote_count"] == 12
    assert m["popularity_change_1d"] is None and m["popularity_7d_ma"] is None
    assert m["momentum_status"] is None  # the original's CASE put a NULL change in 'Falling'
    assert m["viral_coefficient"] is None and m["virality_category"] is None


def test_clamping_and_zero_lags(last_day):
    m = last_day[5]  # a week ago: popularity 100, votes 0; yesterday 60 / 5; today 50 / 10
    assert m["popularity_pct_change_1d"] == pytest.approx(-100 / 6)
    assert m["momentum_status"] == "Falling"
    assert m["vote_count_pct_change_7d"] is None  # SAFE_DIVIDE by zero
    # 0.6 * 10 / GREATEST(0, 1) * 100 + 0.4 * (-50) = 580 -> clamped to 100
    assert m["viral_coefficient"] == 100.0 and m["virality_category"] == "Extremely Viral"
    assert m["trend_category"] == "Declining"  # velocity 10/7, change -50
    declining_only = history().filter(pl.col("movie_id") == 5).with_columns(vote_count=pl.lit(7, pl.Int64))
    row = tf.movie_metrics(declining_only, [LAST]).row(0, named=True)
    assert row["viral_coefficient"] == 0.0  # 0.6 * 0 + 0.4 * -50 = -20 -> clamped to 0
    assert row["virality_category"] == "Not Viral"


def test_only_target_days_and_every_movie_with_a_snapshot_that_day():
    days = [day(d) for d in range(21)]
    frame = tf.movie_metrics(history(), days)
    assert frame.height == history().height
    assert frame.select("movie_id", "snapshot_date").n_unique() == frame.height
    assert frame["calculation_date"].to_list() == frame["snapshot_date"].to_list()
    assert frame.columns == tf.METRIC_COLUMNS
    first = frame.filter(pl.col("snapshot_date") == DAY0)
    assert first["viral_coefficient"].null_count() == first.height


def categorise(expr, values: dict[str, list]) -> list:
    return pl.DataFrame(values).select(expr.alias("category"))["category"].to_list()


def test_momentum_threshold_edges_are_strict():
    pct = [10.0001, 10.0, 5.0001, 5.0, -4.9999, -5.0, -9.9999, -10.0, None]
    got = categorise(tf.momentum_status(pl.col("p"), tf.Thresholds()), {"p": pct})
    assert got == [
        "Surging",
        "Rising",
        "Rising",
        "Stable",
        "Stable",
        "Declining",
        "Declining",
        "Falling",
        None,
    ]


def test_virality_threshold_edges_are_inclusive():
    values = [100.0, 80.0, 79.999, 60.0, 59.999, 40.0, 39.999, 20.0, 19.999, 0.0, None]
    got = categorise(tf.virality_category(pl.col("c"), tf.Thresholds()), {"c": values})
    assert got == [
        "Extremely Viral",
        "Extremely Viral",
        "Highly Viral",
        "Highly Viral",
        "Moderately Viral",
        "Moderately Viral",
        "Slightly Viral",
        "Slightly Viral",
        "Not Viral",
        "Not Viral",
        None,
    ]


def test_trend_threshold_edges():
    velocity = [50.0, 50.01, 50.01, 50.01, 0.0, 0.0, 0.0, 0.0, None]
    change = [11.0, 10.01, -10.01, 10.0, 5.0, 5.01, -5.0, -5.01, 3.0]
    got = categorise(
        tf.trend_category(pl.col("v"), pl.col("c"), tf.Thresholds()), {"v": velocity, "c": change}
    )
    assert got == ["Rising", "Viral", "Viral", "Rising", "Stable", "Rising", "Stable", "Declining", None]


def test_thresholds_are_configuration():
    strict = tf.Thresholds(
        surging=60.0,
        rising=50.0,
        stable=-50.0,
        declining=-60.0,
        highly_viral=70.0,
        vote_weight=1.0,
        popularity_weight=0.0,
    )
    m = tf.movie_metrics(history(), [LAST], strict).filter(pl.col("movie_id") == 1).row(0, named=True)
    assert m["momentum_status"] == "Stable"
    assert m["viral_coefficient"] == pytest.approx(23100 / 269)  # votes only: 85.87
    assert m["virality_category"] == "Extremely Viral"
    m = tf.movie_metrics(history(), [LAST], tf.Thresholds(extremely_viral=90.0, highly_viral=70.0))
    assert m.filter(pl.col("movie_id") == 1)["virality_category"].item() == "Moderately Viral"


def test_unordered_thresholds_are_refused():
    with pytest.raises(ValueError, match="surging > rising > stable > declining"):
        tf.Thresholds(surging=4.0)
    with pytest.raises(ValueError, match="extremely_viral > highly_viral"):
        tf.Thresholds(highly_viral=90.0)


def test_duplicate_snapshot_rows_do_not_duplicate_metrics():
    doubled = pl.concat([history(), history()])
    assert tf.movie_metrics(doubled, [LAST]).height == tf.movie_metrics(history(), [LAST]).height


# -- movies and snapshots --------------------------------------------------------------------------


def movie(movie_id: int, **extra) -> dict:
    return {
        "id": movie_id,
        "title": f"Movie {movie_id}",
        "genres": [{"id": 28, "name": "Action"}, {"id": 18, "name": "Drama"}],
        "release_date": "2023-12-01",
        "budget": 1000,
        "revenue": 5000,
        "runtime": 101,
        "popularity": 12.5,
        "vote_count": 40,
        "vote_average": 7.1,
        **extra,
    }


def test_movies_frame_keeps_the_originals_columns_and_types():
    frame = tf.movies_frame(
        [movie(2, release_date=""), movie(1, popularity="93.49")], {1: "most_popular"}, {1: 1}, NOW
    )
    assert frame["movie_id"].to_list() == [1, 2]
    one = frame.row(0, named=True)
    assert one["popularity"] == 93.49  # the 2014-era string shape
    assert one["genres"] == ["Action", "Drama"] and one["genre_ids"] == [28, 18]
    assert one["release_date"] == date(2023, 12, 1) and one["tracked_reason"] == "most_popular"
    two = frame.row(1, named=True)
    assert (
        two["release_date"] is None and two["popularity_rank"] is None and two["tracked_reason"] == "tracked"
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (movie(1, popularity="n/a"), "movie 1: popularity='n/a' is not a number"),
        (movie(1, release_date="01/12/2023"), "release_date='01/12/2023' is not a date"),
        ({"title": "no id"}, "not a TMDB movie object"),
    ],
)
def test_malformed_movies_are_clear_errors(bad, message):
    with pytest.raises(tf.MalformedMovieError, match=message.replace("(", r"\(")):
        tf.movies_frame([bad], {}, {}, NOW)


def test_snapshot_prefers_the_ranked_list_and_never_duplicates():
    ranked = [{**movie(1), "rank": 1}, {**movie(2, popularity=3.0), "rank": 2}]
    details = [movie(2, popularity=99.0), movie(3, vote_count=7)]
    frame = tf.snapshot_frame(ranked, details, LAST, NOW)
    assert frame["movie_id"].to_list() == [1, 2, 3]
    assert frame["popularity"].to_list() == [12.5, 3.0, 12.5]
    assert frame["source"].to_list() == ["list", "list", "details"]
    assert frame["popularity_rank"].to_list() == [1, 2, None]
    assert frame["snapshot_date"].unique().to_list() == [LAST]


def test_run_config_covers_every_threshold_with_the_same_defaults():
    from dataclasses import asdict

    from video_analytics.tmdb.assets import MetricsConfig
    from video_analytics.tmdb.transforms import Thresholds

    assert MetricsConfig().model_dump() == asdict(Thresholds())
