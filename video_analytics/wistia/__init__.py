"""Wistia: media catalogue, engagement stats and events, modelled as dim_/fact_ tables."""
