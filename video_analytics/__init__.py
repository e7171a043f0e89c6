"""video-analytics: one Dagster asset graph for five video-analytics sources."""
