-- title: Dependency health
-- description: The health of a project's dependencies on the latest date: one row per given PyPI name (any spelling), its catalogue package or none, activity, status, latest release and Django support.
-- param: names str[] required PyPI names, comma-separated (e.g. django-filter,Celery)
-- param: django str null Django version X.Y to check support for (default: the newest any package declares)
-- columns: position, name, normalized, package_id, slug, title, category, activity_score, status, trend, stars, last_commit_at, latest_version, last_release_at, release_age_days, django, supports_django, django_versions, djangopackages_score, data_date
-- example: dpw query dependency_health --param names=django-filter,celery --param django=5.2
-- Only the latest date is read: no history is scanned. A name is matched through the catalogue's PyPI
-- names, both normalized as PEP 503 says (lower case, runs of - _ . as one -); when several packages share
-- one, the most active is taken. supports_django is null when the release declares no Django version.
WITH day AS (
    SELECT max(snapshot_date) AS d FROM daily_package_metrics
),
known AS (
    SELECT DISTINCT v
    FROM (
        SELECT unnest(pp.django_versions) AS v
        FROM pypi_projects pp JOIN day ON pp.snapshot_date = day.d
    )
    WHERE regexp_full_match(v, '\d+\.\d+')
),
target AS (
    SELECT coalesce(
        CAST($django AS VARCHAR),
        (SELECT v FROM known ORDER BY CAST(string_split(v, '.') AS INTEGER[]) DESC LIMIT 1)
    ) AS django
),
given AS (
    SELECT unnest(CAST($names AS VARCHAR[])) AS name,
           generate_subscripts(CAST($names AS VARCHAR[]), 1) AS position
),
wanted AS (
    SELECT position, name, regexp_replace(lower(trim(name)), '[-_.]+', '-', 'g') AS normalized FROM given
),
catalogue AS (
    SELECT p.package_id, p.slug, p.title, p.category_id, p.pypi_name,
           regexp_replace(lower(p.pypi_name), '[-_.]+', '-', 'g') AS normalized
    FROM package_snapshots p JOIN day ON p.snapshot_date = day.d
    WHERE p.pypi_name <> ''
),
matched AS (
    SELECT w.position, c.*, m.activity_score, m.status, m.trend, m.stars, m.last_commit_at,
           m.latest_version, m.baseline_djangopackages
    FROM wanted w
    JOIN catalogue c USING (normalized)
    JOIN day ON true
    JOIN daily_package_metrics m ON m.snapshot_date = day.d AND m.package_id = c.package_id
    QUALIFY row_number() OVER (
        PARTITION BY w.position ORDER BY m.activity_score DESC NULLS LAST, c.package_id
    ) = 1
)
SELECT w.position, w.name, w.normalized, m.package_id, m.slug, m.title, cat.title AS category,
       round(m.activity_score, 1) AS activity_score, m.status, m.trend, m.stars,
       m.last_commit_at, coalesce(pp.version, m.latest_version) AS latest_version, pp.last_release_at,
       day.d - CAST(timezone('UTC', pp.last_release_at) AS DATE) AS release_age_days,
       target.django,
       CASE WHEN len(pp.django_versions) > 0 THEN list_contains(pp.django_versions, target.django) END
           AS supports_django,
       pp.django_versions,
       m.baseline_djangopackages AS djangopackages_score,
       day.d AS data_date
FROM wanted w
CROSS JOIN day
CROSS JOIN target
LEFT JOIN matched m USING (position)
LEFT JOIN category_snapshots cat ON cat.snapshot_date = day.d AND cat.category_id = m.category_id
LEFT JOIN pypi_projects pp ON pp.snapshot_date = day.d AND pp.pypi_name = m.pypi_name
ORDER BY w.position;
