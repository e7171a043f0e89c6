"""The numbers of TMDB's metric rules: the categories' thresholds and the days a metric looks back.

Apart from `transforms` (the polars rules that use them) so the assets declare the launchpad's
defaults and the metrics' input window when the definitions load, without importing polars.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

LOOKBACK_DAYS = 14  # the oldest lag any metric needs (vote acceleration)


@dataclass(frozen=True)
class Thresholds:
    """The original's thresholds (config.yaml and the SQL views), all configurable."""

    surging: float = 10.0
    rising: float = 5.0
    stable: float = -5.0
    declining: float = -10.0
    trend_viral_velocity: float = 50.0
    trend_viral_change: float = 10.0
    trend_rising: float = 5.0
    trend_declining: float = -5.0
    extremely_viral: float = 80.0
    highly_viral: float = 60.0
    moderately_viral: float = 40.0
    slightly_viral: float = 20.0
    vote_weight: float = 0.6
    popularity_weight: float = 0.4

    def __post_init__(self) -> None:
        """Bands must be ordered, or a CASE ladder silently skips categories."""
        ladders = {
            "surging > rising > stable > declining": (self.surging, self.rising, self.stable, self.declining),
            "extremely_viral > highly_viral > moderately_viral > slightly_viral": (
                self.extremely_viral,
                self.highly_viral,
                self.moderately_viral,
                self.slightly_viral,
            ),
            "trend_rising > trend_declining": (self.trend_rising, self.trend_declining),
        }
        for rule, values in ladders.items():
            if any(high <= low for high, low in pairwise(values)):
                raise ValueError(f"TMDB thresholds must satisfy {rule}; got {values}")
