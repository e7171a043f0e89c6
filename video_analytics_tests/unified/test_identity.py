"""Video identity: explicit mappings win, automatic matches are labelled as guesses, errors say where."""

from __future__ import annotations

import polars as pl
import pytest

from video_analytics.unified import identity
from video_analytics.unified.identity import MappingError, Tolerance


def catalogue() -> list[pl.DataFrame]:
    cms = pl.DataFrame(
        {
            "id": ["111", "112", "113"],
            "channel": ["internet", "internet", "intranet"],
            "name": ["Nova: Episode 1", "Town Hall", "Quarterly Results"],
            "duration": [3_600_000, 600_000, 1_200_000],
        }
    )
    dm = pl.DataFrame(
        {
            "day": ["2026-03-01", "2026-03-02", "2026-03-02"],
            "video_id": ["x1", "x1", "x9"],
            "video_title": ["Nova Episode 1", "Nova Episode 1", "Town hall"],
            "video_duration": [3601, 3601, 1800],
        }
    )
    wistia = pl.DataFrame({"hashed_id": ["w1"], "name": ["NOVA — episode 1"], "duration": [3599.0]})
    agora = pl.DataFrame(
        {"date": ["2026-03-02"], "x_tpmid": ["2000"], "producer": ["WGBH"], "title": ["Nova Episode 1"]}
    )
    return [
        identity.brightcove_catalogue(cms),
        identity.dailymotion_catalogue(dm),
        identity.wistia_catalogue(wistia),
        identity.agora_catalogue(agora),
    ]


MOVIES = pl.DataFrame(
    {
        "movie_id": [7, 8],
        "title": ["Quarterly Results", "Unrelated"],
        "popularity": [12.5, 3.0],
        "runtime": [20, 90],
    }
)
HEADER = "content_id,platform,video_id\n"
NO_MAPPING = identity.parse_mapping("content_id,platform,video_id\n", "none.csv")


def row(frame: pl.DataFrame, platform: str, video_id: str) -> dict:
    return frame.filter(platform=platform, video_id=video_id).row(0, named=True)


def test_a_mapping_file_joins_a_brightcove_and_a_dailymotion_video():
    mapping = identity.parse_mapping(
        "# programmes we publish twice\ncontent_id,platform,video_id\ntown-hall,brightcove,112\n"
        "town-hall,dailymotion,x9\n",
        "videos.csv",
    )
    frame = identity.video_identity(catalogue(), mapping, MOVIES)
    for platform, video_id in (("brightcove", "112"), ("dailymotion", "x9")):
        found = row(frame, platform, video_id)
        assert (found["content_id"], found["identity_method"], found["identity_confidence"]) == (
            "town-hall",
            "explicit",
            1.0,
        )
    assert frame.select("platform", "video_id").is_unique().all()


def test_automatic_matches_are_labelled_with_method_and_confidence():
    frame = identity.video_identity(catalogue(), NO_MAPPING, MOVIES)
    nova = frame.filter(pl.col("normalized_title") == "nova episode 1")
    assert nova["content_id"].unique().to_list() == ["auto:nova-episode-1"]
    assert row(frame, "brightcove", "111")["identity_method"] == "title+duration"
    assert row(frame, "wistia", "w1")["identity_confidence"] == 0.9
    agora = row(frame, "agora", "2000")  # the player logs carry no duration
    assert (agora["identity_method"], agora["identity_confidence"]) == ("title", 0.6)
    assert "3600s vs 3601s" in row(frame, "brightcove", "111")["evidence"]


def test_same_title_with_different_durations_is_not_the_same_content():
    frame = identity.video_identity(catalogue(), NO_MAPPING, MOVIES)
    town_hall = frame.filter(pl.col("normalized_title") == "town hall")
    assert sorted(town_hall["content_id"]) == ["brightcove:112", "dailymotion:x9"]
    assert town_hall["identity_method"].to_list() == ["native", "native"]
    wide = identity.video_identity(catalogue(), NO_MAPPING, MOVIES, Tolerance(seconds=1200))
    assert wide.filter(pl.col("normalized_title") == "town hall")["content_id"].n_unique() == 1


def test_an_automatic_match_joins_an_explicit_content_and_keeps_its_own_label():
    mapping = identity.parse_mapping("content_id,platform,video_id\nnova-1,brightcove,111\n", "v.csv")
    frame = identity.video_identity(catalogue(), mapping, MOVIES)
    assert row(frame, "brightcove", "111")["identity_method"] == "explicit"
    dm = row(frame, "dailymotion", "x1")
    assert (dm["content_id"], dm["identity_method"]) == ("nova-1", "title+duration")


def test_automatic_matching_never_merges_two_explicit_contents():
    mapping = identity.parse_mapping(
        "content_id,platform,video_id\nnova-a,brightcove,111\nnova-b,dailymotion,x1\n", "v.csv"
    )
    frame = identity.video_identity(catalogue(), mapping, MOVIES)
    assert row(frame, "brightcove", "111")["content_id"] == "nova-a"
    assert row(frame, "dailymotion", "x1")["content_id"] == "nova-b"


def test_tmdb_popularity_is_attached_by_title_and_labelled():
    frame = identity.video_identity(catalogue(), NO_MAPPING, MOVIES)
    results = row(frame, "brightcove", "113")
    assert (results["tmdb_movie_id"], results["tmdb_popularity"]) == (7, 12.5)
    assert (results["tmdb_match_method"], results["tmdb_match_confidence"]) == ("title+duration", 0.9)
    assert row(frame, "brightcove", "111")["tmdb_movie_id"] is None
    explicit = identity.parse_mapping("content_id: {brightcove: '111', tmdb: 8}\n", "v.yaml")
    nova = row(identity.video_identity(catalogue(), explicit, MOVIES), "brightcove", "111")
    assert (nova["tmdb_movie_id"], nova["tmdb_match_method"]) == (8, "explicit")


def test_yaml_mapping_lists_several_ids_per_platform():
    mapping = identity.parse_mapping("town-hall:\n  brightcove: '112'\n  dailymotion: [x9, x10]\n", "v.yml")
    assert sorted(mapping.rows()) == [
        ("town-hall", "brightcove", "112"),
        ("town-hall", "dailymotion", "x10"),
        ("town-hall", "dailymotion", "x9"),
    ]
    frame = identity.video_identity(catalogue(), mapping, MOVIES)
    unseen = row(frame, "dailymotion", "x10")  # mapped before any view: kept, labelled explicit
    assert (unseen["content_id"], unseen["title"]) == ("town-hall", None)


@pytest.mark.parametrize(
    ("text", "name", "message"),
    [
        (f"{HEADER}a,youtube,1\n", "m.csv", "m.csv line 2: platform 'youtube' is not one of"),
        ("# c\ncontent_id,platform,video_id\na,wistia,\n", "m.csv", "m.csv line 3: content_id and video_id"),
        ("id,platform\n", "m.csv", "m.csv: the header must name content_id, platform, video_id"),
        (f"{HEADER}a,wistia,1\nb,wistia,1\n", "m.csv", "wistia video 1 is mapped to several"),
        ("a: [1, 2]\n", "m.yaml", "m.yaml key 'a': expected {platform: video id or [ids]}"),
        ("a: {b: [\n", "m.yaml", "m.yaml: not valid YAML"),
    ],
)
def test_mapping_errors_name_the_file_and_the_line(text, name, message):
    with pytest.raises(MappingError, match=message.replace("[", r"\[").replace("{", r"\{")):
        identity.parse_mapping(text, name)


def test_normalize_title():
    assert identity.normalize_title("  Nova: Épisode 1 (HD)!") == "nova episode 1 hd"
    assert identity.normalize_title(None) == ""
