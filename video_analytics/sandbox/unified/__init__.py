"""The sandbox's cross-platform mapping file."""
