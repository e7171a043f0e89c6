"""`python -m video_analytics.sandbox`: serve the simulators and print the `export` lines for them."""

from video_analytics.sandbox.server import main

main()
