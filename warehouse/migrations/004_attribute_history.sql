-- When each of a package's attributes held each value: one row per (package, attribute, value) interval,
-- kept by warehouse/attributes.py from the snapshots (rebuilt from them when this migration is applied).
-- valid_from is the first snapshot date the package showed the value; valid_to, exclusive, the first snapshot
-- date it showed another one, NULL for the value it shows last. A grid membership is one row per interval
-- of membership (value: the grid id), ended by the first date the package is listed outside the grid.
CREATE TABLE attribute_history (
    package_id BIGINT NOT NULL,
    attribute VARCHAR NOT NULL,       -- title, slug, repo_url, repo_host, category_id, description, pypi_name,
                                      -- grid, archived, license
    value VARCHAR,                    -- as text (category_id and grid ids as digits, archived true/false); NULL is a value
    valid_from DATE NOT NULL,
    valid_to DATE                     -- exclusive; NULL while it is the package's latest value
);
