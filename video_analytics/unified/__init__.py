"""Cross-platform tables: one conformed daily table, video identity across platforms, the report."""
