"""The sandbox's dailymotion simulator."""
