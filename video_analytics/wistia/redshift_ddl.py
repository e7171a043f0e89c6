"""`video-analytics redshift-ddl`: the statement that makes the Glue-catalogued lake visible in Redshift."""

from __future__ import annotations

from video_analytics.settings import Settings, SettingsError, aws_region

TABLES = (
    "dim_media",
    "dim_visitors",
    "fact_engagements",
    "fact_engagements_byday",
    "fact_engagement_graph",
    "fact_events",
)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def redshift_ddl(settings: Settings) -> str:
    """`CREATE EXTERNAL SCHEMA … FROM DATA CATALOG` for WISTIA_GLUE_DATABASE, plus example queries.

    IAM role from WISTIA_REDSHIFT_IAM_ROLE (default: the cluster's default role), region from
    AWS_REGION / AWS_DEFAULT_REGION, schema name from WISTIA_REDSHIFT_EXTERNAL_SCHEMA (`wistia_lake`).
    """
    database = settings.wistia.glue_database
    if not database:
        raise SettingsError("WISTIA_GLUE_DATABASE is not set: name the Glue database the lake registers in")
    if not settings.lake_root.startswith(("s3://", "s3a://")):
        raise SettingsError(
            f"VIDEO_ANALYTICS_DATA_DIR={settings.data_dir} is not an s3:// lake; Spectrum reads S3 only"
        )
    schema, role, region = (
        settings.wistia.redshift_external_schema,
        settings.wistia.redshift_iam_role,
        aws_region(),
    )
    lines = [
        f"-- Lake {settings.lake_root}, Glue database {database}: tables and partitions are registered",
        "-- by the Wistia assets as they write, so no crawler run is needed.",
        f'CREATE EXTERNAL SCHEMA IF NOT EXISTS "{schema}"',
        f"FROM DATA CATALOG DATABASE {_quote(database)}",
        f"IAM_ROLE {_quote(role) if role else 'default'}",
    ]
    if region:
        lines.append(f"REGION {_quote(region)}")
    lines[-1] += ";"
    lines.append("")
    lines += [f'-- SELECT count(*) FROM "{schema}".{table};' for table in TABLES]
    return "\n".join(lines) + "\n"
