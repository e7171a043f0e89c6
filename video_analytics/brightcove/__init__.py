"""Brightcove Video Cloud: CMS metadata and Analytics API reporting."""
