-- Views and watch time per platform and ISO week (Monday start), with the change from the week before.
-- `days` tells a partial week (the current one, or the first loaded) from a full one.
CREATE OR REPLACE VIEW week_over_week_by_platform AS
WITH weekly AS (
    SELECT
        platform,
        CAST(date_trunc('week', date) AS DATE) AS week_start,
        count(DISTINCT date) AS days,
        CAST(sum(views) AS BIGINT) AS views,
        sum(watch_time_seconds) / 3600.0 AS watch_hours
    FROM video_daily_performance
    GROUP BY platform, week_start
)
SELECT
    platform,
    week_start,
    days,
    views,
    watch_hours,
    lag(views) OVER w AS previous_week_views,
    views - lag(views) OVER w AS views_change,
    100.0 * (views - lag(views) OVER w) / nullif(lag(views) OVER w, 0) AS views_change_pct
FROM weekly
WINDOW w AS (PARTITION BY platform ORDER BY week_start)
