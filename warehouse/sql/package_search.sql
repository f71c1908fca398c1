-- title: Find a package
-- description: The packages on the latest date whose slug, title or PyPI name contains the text, in any case: exact matches first, then by stars. An empty text lists the most starred.
-- param: text str required what to look for
-- param: limit int 20 how many packages
-- columns: package_id, slug, title, category, stars, activity_score, status
-- example: dpw query package_search --param text=oauth
WITH day AS (SELECT max(snapshot_date) AS d FROM daily_package_metrics),
found AS (
    SELECT p.package_id, p.slug, p.title, p.category_id,
           lower(p.slug) = lower(trim($text)) OR lower(p.pypi_name) = lower(trim($text)) AS exact
    FROM package_snapshots p JOIN day ON p.snapshot_date = day.d
    WHERE contains(lower(concat_ws(' ', p.slug, p.title, p.pypi_name)), lower(trim($text)))
)
SELECT f.package_id, f.slug, f.title, c.title AS category, m.stars, round(m.activity_score, 1) AS activity_score,
       m.status
FROM found f
JOIN day ON true
JOIN daily_package_metrics m ON m.snapshot_date = day.d AND m.package_id = f.package_id
LEFT JOIN category_snapshots c ON c.snapshot_date = day.d AND c.category_id = f.category_id
ORDER BY f.exact DESC, m.stars DESC, f.slug
LIMIT $limit;
