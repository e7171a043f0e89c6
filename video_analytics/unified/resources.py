"""Where the cross-platform assets read catalogues, mappings and write reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from video_analytics.settings import Settings
from video_analytics.storage.options import open_filesystem
from video_analytics.storage.parquet import read_table

if TYPE_CHECKING:  # polars is imported where frames are made: this module loads with the definitions
    import polars as pl

    from video_analytics.unified.identity import Tolerance

MAPPING_SETTING = "VIDEO_ANALYTICS_VIDEO_MAPPING"


class CrossPlatformResource(dg.ConfigurableResource):
    """The lake the conformed table reads source catalogues from, the user's video mapping file and
    the folder the HTML reports go to (local or ``s3://``)."""

    lake_root: str
    video_mapping: str = Field(
        default="",
        description=f"CSV or YAML of explicit content ids ({MAPPING_SETTING}); empty = automatic only.",
    )
    duration_tolerance_seconds: float = Field(default=2.0, description="Durations this close match.")
    duration_tolerance_fraction: float = Field(default=0.02, description="... or this share of the longer.")
    report_dir: str = Field(default="", description="Where reports go; empty = <lake root>/reports.")

    @property
    def tolerance(self) -> Tolerance:
        from video_analytics.unified.identity import Tolerance

        return Tolerance(self.duration_tolerance_seconds, self.duration_tolerance_fraction)

    @property
    def reports(self) -> str:
        return self.report_dir or f"{self.lake_root.rstrip('/')}/reports"

    def lake_table(self, table: str) -> pl.DataFrame:
        """Every partition of a lake table; empty when the source has not been materialized yet."""
        import polars as pl

        try:
            return read_table(self.lake_root, table)
        except FileNotFoundError:
            return pl.DataFrame()

    def mapping(self) -> tuple[pl.DataFrame, str]:
        """The explicit mapping rows and where they came from ("" when none is configured)."""
        import polars as pl

        from video_analytics.unified.identity import parse_mapping

        path = self.video_mapping.strip()
        if not path:
            return pl.DataFrame(
                schema={"content_id": pl.String, "platform": pl.String, "video_id": pl.String}
            ), ""
        fs, fs_path = open_filesystem(path)
        if not fs.exists(fs_path):
            raise FileNotFoundError(
                f"video mapping file {path} does not exist: fix {MAPPING_SETTING} (or the "
                "video_identity launchpad key resources.cross_platform.config.video_mapping)"
            )
        return parse_mapping(fs.cat_file(fs_path).decode("utf-8"), path), path


def build_resources(settings: Settings) -> dict[str, CrossPlatformResource]:
    mapping = settings.cross_platform
    return {
        "cross_platform": CrossPlatformResource(
            lake_root=settings.lake_root,
            video_mapping=mapping.video_mapping or "",
            report_dir=mapping.report_dir or "",
        )
    }
