-- Each platform's share of the day's views (and watch time) across all platforms.
CREATE OR REPLACE VIEW platform_share_daily AS
SELECT
    date,
    platform,
    CAST(sum(views) AS BIGINT) AS views,
    sum(watch_time_seconds) / 3600.0 AS watch_hours,
    sum(views) / nullif(sum(sum(views)) OVER (PARTITION BY date), 0) AS view_share,
    sum(watch_time_seconds) / nullif(sum(sum(watch_time_seconds)) OVER (PARTITION BY date), 0) AS watch_share
FROM video_daily_performance
GROUP BY date, platform
