-- Content ranked by views over every platform and day in the lake; filter video_daily_performance by
-- date for a period. `identity_methods` shows whether the cross-platform join is a fact or a guess.
CREATE OR REPLACE VIEW top_content AS
SELECT
    content_id,
    any_value(title ORDER BY views DESC) AS title,
    count(DISTINCT platform) AS platforms,
    string_agg(DISTINCT platform, ', ' ORDER BY platform) AS platform_list,
    string_agg(DISTINCT identity_method, ', ' ORDER BY identity_method) AS identity_methods,
    min(date) AS first_date,
    max(date) AS last_date,
    CAST(sum(views) AS BIGINT) AS views,
    sum(watch_time_seconds) / 3600.0 AS watch_hours,
    rank() OVER (ORDER BY sum(views) DESC) AS rank
FROM video_daily_performance
GROUP BY content_id
