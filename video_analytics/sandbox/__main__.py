"""`python -m video_analytics.sandbox`: serve the simulators and print the `export` lines for them."""

from video_analytics.sandbox.launcher import main

main()
