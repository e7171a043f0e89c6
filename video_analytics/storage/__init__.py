"""Where assets land: the Parquet lake IO manager and the DuckDB warehouse over it."""
