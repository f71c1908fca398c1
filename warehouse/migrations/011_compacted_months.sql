-- The months whose dated tables were rewritten in key order (warehouse/compaction.py): a publication that
-- replaces a date of a month removes its row, so the month is rewritten again once it is closed.
CREATE TABLE compacted_months (
    month DATE NOT NULL PRIMARY KEY,      -- its first day
    compacted_at TIMESTAMPTZ NOT NULL,
    row_count BIGINT NOT NULL             -- rows rewritten, over every clustered table
);
