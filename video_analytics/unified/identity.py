"""Pure: one content id per programme across platforms, each link labelled with how it was made.

Explicit mappings a user supplies win (method ``explicit``, confidence 1.0). Then videos whose
normalized titles agree are linked: ``title+duration`` (0.9) when both durations are known and agree
within the tolerance, ``title`` (0.6) when one platform does not report a duration. Videos left alone
keep their native id as content id (method ``native``). TMDB popularity is attached where a title
equals a movie's, labelled the same way, so nobody mistakes a guess for a fact.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

MAPPING_PLATFORMS = ("brightcove", "dailymotion", "wistia", "agora", "tmdb")
EXPLICIT, TITLE_DURATION, TITLE, NATIVE = "explicit", "title+duration", "title", "native"
CONFIDENCE = {EXPLICIT: 1.0, TITLE_DURATION: 0.9, TITLE: 0.6, NATIVE: 1.0}

CATALOGUE_SCHEMA: dict[str, pl.DataType] = {
    "platform": pl.String(),
    "video_id": pl.String(),
    "account": pl.String(),
    "title": pl.String(),
    "duration_seconds": pl.Float64(),
}

IDENTITY_SCHEMA: dict[str, pl.DataType] = {
    "content_id": pl.String(),
    **CATALOGUE_SCHEMA,
    "normalized_title": pl.String(),
    "identity_method": pl.String(),
    "identity_confidence": pl.Float64(),
    "evidence": pl.String(),
    "tmdb_movie_id": pl.Int64(),
    "tmdb_title": pl.String(),
    "tmdb_popularity": pl.Float64(),
    "tmdb_match_method": pl.String(),
    "tmdb_match_confidence": pl.Float64(),
}


class MappingError(ValueError):
    """The explicit video mapping file cannot be used as written."""


@dataclass(frozen=True)
class Tolerance:
    """Two durations agree when they differ by at most `seconds` or `fraction` of the longer one."""

    seconds: float = 2.0
    fraction: float = 0.02

    def agrees(self, a: float, b: float) -> bool:
        return abs(a - b) <= max(self.seconds, self.fraction * max(a, b))


def normalize_title(title: str | None) -> str:
    """Lower case, no accents or punctuation, spaces collapsed: "Nova: Épisode 1" -> "nova episode 1"."""
    if not title:
        return ""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_title.lower()).split())


# -- catalogues --------------------------------------------------------------------------------------


def _catalogue(frame: pl.DataFrame, platform: str, **columns: pl.Expr) -> pl.DataFrame:
    if frame.height == 0 or not all(
        name in frame.columns for expr in columns.values() for name in expr.meta.root_names()
    ):
        return pl.DataFrame(schema=CATALOGUE_SCHEMA)
    selected = frame.select(platform=pl.lit(platform), **columns)
    return selected.select(
        pl.col(n).cast(t) if n in selected.columns else pl.lit(None, t).alias(n)
        for n, t in CATALOGUE_SCHEMA.items()
    ).unique("video_id", keep="last", maintain_order=True)


def brightcove_catalogue(cms_videos: pl.DataFrame) -> pl.DataFrame:
    return _catalogue(
        cms_videos,
        "brightcove",
        video_id=pl.col("id"),
        account=pl.col("channel"),
        title=pl.col("name"),
        duration_seconds=pl.col("duration") / 1000.0,
    )


def dailymotion_catalogue(daily_stats: pl.DataFrame) -> pl.DataFrame:
    return _catalogue(
        daily_stats.sort("day") if "day" in daily_stats.columns else daily_stats,
        "dailymotion",
        video_id=pl.col("video_id"),
        title=pl.col("video_title"),
        duration_seconds=pl.col("video_duration"),
    )


def wistia_catalogue(dim_media: pl.DataFrame) -> pl.DataFrame:
    return _catalogue(
        dim_media,
        "wistia",
        video_id=pl.col("hashed_id"),
        title=pl.col("name"),
        duration_seconds=pl.col("duration"),
    )


def agora_catalogue(daily_stats: pl.DataFrame) -> pl.DataFrame:
    """Agora's logs name a programme but not its length: its matches are title-only."""
    return _catalogue(
        daily_stats.sort("date") if "date" in daily_stats.columns else daily_stats,
        "agora",
        video_id=pl.col("x_tpmid"),
        account=pl.col("producer"),
        title=pl.col("title"),
    )


# -- the explicit mapping file -----------------------------------------------------------------------


def parse_mapping(text: str, source: str) -> pl.DataFrame:
    """A CSV (``content_id,platform,video_id``) or YAML (``content_id: {platform: id or [ids]}``)
    mapping -> rows of content_id, platform, video_id. Errors name the file and the line or key."""
    if source.endswith((".yaml", ".yml")):
        rows = list(_yaml_rows(text, source))
    else:
        rows = list(_csv_rows(text, source))
    frame = pl.DataFrame(
        rows, schema={"content_id": pl.String, "platform": pl.String, "video_id": pl.String}, orient="row"
    )
    clashes = (
        frame.unique()
        .group_by("platform", "video_id")
        .agg(pl.col("content_id").sort())
        .filter(pl.col("content_id").list.len() > 1)
    )
    if clashes.height:
        row = clashes.row(0, named=True)
        raise MappingError(
            f"{source}: {row['platform']} video {row['video_id']} is mapped to several content ids "
            f"({', '.join(row['content_id'])}); keep one."
        )
    return frame.unique(maintain_order=True)


def _checked(content_id: str, platform: str, video_id: str, where: str) -> tuple[str, str, str]:
    content_id, platform, video_id = content_id.strip(), platform.strip().lower(), video_id.strip()
    if not content_id or not video_id:
        raise MappingError(f"{where}: content_id and video_id must not be empty")
    if platform not in MAPPING_PLATFORMS:
        raise MappingError(f"{where}: platform {platform!r} is not one of {', '.join(MAPPING_PLATFORMS)}")
    return content_id, platform, video_id


def _csv_rows(text: str, source: str) -> Iterable[tuple[str, str, str]]:
    """Lines starting with ``#`` are comments; line numbers in errors are the file's own."""
    lines = ["" if line.lstrip().startswith("#") else line for line in text.splitlines()]
    skipped = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    reader = csv.DictReader(io.StringIO("\n".join(lines[skipped:])))
    missing = {"content_id", "platform", "video_id"} - set(reader.fieldnames or ())
    if missing:
        raise MappingError(
            f"{source}: the header must name content_id, platform, video_id "
            f"(missing: {', '.join(sorted(missing))})"
        )
    for row in reader:
        if not any((value or "").strip() for value in row.values()):
            continue
        where = f"{source} line {reader.line_num + skipped}"
        yield _checked(row["content_id"] or "", row["platform"] or "", row["video_id"] or "", where)


def _yaml_rows(text: str, source: str) -> Iterable[tuple[str, str, str]]:
    import yaml

    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise MappingError(f"{source}: expected a mapping of content_id -> {{platform: video id(s)}}")
    for content_id, platforms in document.items():
        if not isinstance(platforms, dict):
            raise MappingError(f"{source} key {content_id!r}: expected {{platform: video id or [ids]}}")
        for platform, ids in platforms.items():
            for video_id in ids if isinstance(ids, list) else [ids]:
                yield _checked(str(content_id), str(platform), str(video_id), f"{source} key {content_id!r}")


# -- matching ----------------------------------------------------------------------------------------


class _Groups:
    """Union-find over video keys that refuses to merge two different explicit content ids."""

    def __init__(self, keys: Iterable[tuple[str, str]], explicit: dict[tuple[str, str], str]) -> None:
        self.parent = {key: key for key in keys}
        self.explicit = {key: explicit[key] for key in self.parent if key in explicit}

    def find(self, key: tuple[str, str]) -> tuple[str, str]:
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ea, eb = self.explicit.get(ra), self.explicit.get(rb)
        if ea and eb and ea != eb:
            return False
        self.parent[rb] = ra
        if eb and not ea:
            self.explicit[ra] = eb
        return True


def _auto_links(catalogue: pl.DataFrame, tolerance: Tolerance) -> list[tuple[tuple, tuple, str, str]]:
    """(video a, video b, method, evidence) for every pair of videos with the same normalized title."""
    links = []
    titled = catalogue.filter(pl.col("normalized_title") != "")
    for group in titled.partition_by("normalized_title"):
        rows = group.sort("platform", "video_id").to_dicts()
        for i, a in enumerate(rows):
            for b in rows[i + 1 :]:
                da, db = a["duration_seconds"], b["duration_seconds"]
                if da is not None and db is not None:
                    if not tolerance.agrees(da, db):
                        continue
                    method, evidence = TITLE_DURATION, f"title {a['normalized_title']!r}, {da:g}s vs {db:g}s"
                else:
                    method, evidence = TITLE, f"title {a['normalized_title']!r}, a duration unknown"
                links.append(
                    ((a["platform"], a["video_id"]), (b["platform"], b["video_id"]), method, evidence)
                )
    return links


def match_videos(
    catalogue: pl.DataFrame, mapping: pl.DataFrame, tolerance: Tolerance = Tolerance()
) -> pl.DataFrame:
    """One row per video (catalogued or mapped) with its content id, method, confidence, evidence."""
    mapped = mapping.filter(pl.col("platform") != "tmdb")
    unseen = mapped.join(catalogue, on=["platform", "video_id"], how="anti").select("platform", "video_id")
    videos = pl.concat([catalogue, unseen], how="diagonal_relaxed").unique(["platform", "video_id"])
    videos = videos.with_columns(
        normalized_title=pl.col("title").map_elements(normalize_title, return_dtype=pl.String).fill_null("")
    ).sort("platform", "video_id")
    explicit = {(r["platform"], r["video_id"]): r["content_id"] for r in mapped.iter_rows(named=True)}
    keys = list(zip(videos["platform"], videos["video_id"], strict=True))
    groups = _Groups(keys, explicit)
    for key, content_id in explicit.items():
        for other, other_id in explicit.items():
            if other_id == content_id:
                groups.union(key, other)
                break
    best: dict[tuple[str, str], tuple[str, str]] = {}
    for a, b, method, evidence in _auto_links(videos, tolerance):
        if groups.union(a, b):
            for key in (a, b):
                if key not in best or CONFIDENCE[method] > CONFIDENCE[best[key][0]]:
                    best[key] = (method, evidence)
    return videos.with_columns(
        pl.Series("content_id", _content_ids(videos, keys, groups), dtype=pl.String),
        pl.Series("identity_method", [_method(k, explicit, best)[0] for k in keys], dtype=pl.String),
        pl.Series("evidence", [_method(k, explicit, best)[1] for k in keys], dtype=pl.String),
    ).with_columns(identity_confidence=pl.col("identity_method").replace_strict(CONFIDENCE))


def _method(key: tuple[str, str], explicit: dict, best: dict) -> tuple[str, str]:
    if key in explicit:
        return EXPLICIT, "mapping file"
    return best.get(key, (NATIVE, "no other video shares its title"))


def _content_ids(videos: pl.DataFrame, keys: Sequence[tuple[str, str]], groups: _Groups) -> list[str]:
    """Explicit groups keep the user's id; automatic ones get ``auto:<title>`` (``~2``, ``~3`` when one
    title splits into several programmes by duration); singletons keep ``platform:video_id``."""
    members: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(groups.find(key), []).append(index)
    titles = videos["normalized_title"].to_list()
    ids: list[str] = [""] * len(keys)
    used: dict[str, int] = {}
    for root, indexes in sorted(members.items(), key=lambda item: min(item[1])):
        if root in groups.explicit:
            content_id = groups.explicit[root]
        elif len(indexes) == 1:
            content_id = f"{keys[indexes[0]][0]}:{keys[indexes[0]][1]}"
        else:
            slug = "auto:" + titles[indexes[0]].replace(" ", "-")
            used[slug] = used.get(slug, 0) + 1
            content_id = slug if used[slug] == 1 else f"{slug}~{used[slug]}"
        for index in indexes:
            ids[index] = content_id
    return ids


def with_tmdb(
    identity: pl.DataFrame, movies: pl.DataFrame, mapping: pl.DataFrame, tolerance: Tolerance = Tolerance()
) -> pl.DataFrame:
    """Attach a TMDB movie per content: an explicit ``tmdb`` mapping row, else a movie whose normalized
    title equals one of the content's titles (``title+duration`` when its runtime agrees too)."""
    tmdb_null = {n: pl.lit(None, t) for n, t in IDENTITY_SCHEMA.items() if n.startswith("tmdb_")}
    if movies.height == 0 or "movie_id" not in movies.columns:
        return identity.with_columns(**tmdb_null)
    catalogue = movies.select(
        tmdb_movie_id=pl.col("movie_id").cast(pl.Int64),
        tmdb_title=pl.col("title"),
        tmdb_popularity=pl.col("popularity").cast(pl.Float64),
        tmdb_runtime=pl.col("runtime").cast(pl.Float64) * 60.0,
        normalized_title=pl.col("title").map_elements(normalize_title, return_dtype=pl.String),
    ).unique("tmdb_movie_id")
    explicit = mapping.filter(pl.col("platform") == "tmdb").select(
        "content_id", tmdb_movie_id=pl.col("video_id").cast(pl.Int64, strict=False)
    )
    by_title = (
        identity.filter(~pl.col("content_id").is_in(explicit["content_id"].implode()))
        .join(catalogue.drop("tmdb_runtime"), on="normalized_title", how="inner")
        .join(catalogue.select("tmdb_movie_id", "tmdb_runtime"), on="tmdb_movie_id")
        .with_columns(
            tmdb_match_method=pl.when(
                pl.struct("duration_seconds", "tmdb_runtime").map_elements(
                    lambda r: (
                        r["duration_seconds"] is not None
                        and r["tmdb_runtime"] is not None
                        and tolerance.agrees(r["duration_seconds"], r["tmdb_runtime"])
                    ),
                    return_dtype=pl.Boolean,
                )
            )
            .then(pl.lit(TITLE_DURATION))
            .otherwise(pl.lit(TITLE))
        )
        .sort("tmdb_match_method", "tmdb_popularity", descending=[True, True])  # title+duration first
        .unique("content_id", keep="first", maintain_order=True)
        .select("content_id", "tmdb_movie_id", "tmdb_match_method")
    )
    chosen = pl.concat(
        [explicit.with_columns(tmdb_match_method=pl.lit(EXPLICIT)), by_title], how="vertical_relaxed"
    ).join(catalogue.select("tmdb_movie_id", "tmdb_title", "tmdb_popularity"), on="tmdb_movie_id", how="left")
    chosen = chosen.with_columns(tmdb_match_confidence=pl.col("tmdb_match_method").replace_strict(CONFIDENCE))
    return identity.join(chosen, on="content_id", how="left")


def video_identity(
    catalogues: Sequence[pl.DataFrame],
    mapping: pl.DataFrame,
    movies: pl.DataFrame,
    tolerance: Tolerance = Tolerance(),
) -> pl.DataFrame:
    """The `video_identity` table: every catalogued or mapped video with its content id and labels."""
    catalogue = pl.concat([c for c in catalogues if c.height] or [pl.DataFrame(schema=CATALOGUE_SCHEMA)])
    matched = with_tmdb(match_videos(catalogue, mapping, tolerance), movies, mapping, tolerance)
    return matched.select(pl.col(n).cast(t) for n, t in IDENTITY_SCHEMA.items()).sort(
        "content_id", "platform", "video_id"
    )
