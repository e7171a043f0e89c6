"""The sandbox's wistia simulator."""
