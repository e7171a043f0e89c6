"""The sandbox's tmdb simulator."""
