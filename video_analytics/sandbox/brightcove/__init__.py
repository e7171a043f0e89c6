"""The sandbox's brightcove simulator."""
