"""video-analytics: one Dagster asset graph for five video-analytics sources."""

import warnings

# We pin Dagster and use its beta features on purpose (single-run backfill policy, partition mapping
# options); the warnings would repeat on every definitions load, in every run and in the UI's logs.
warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
