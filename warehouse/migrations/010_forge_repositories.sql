-- GitLab projects and Bitbucket repositories as typed rows, one per linked repository and date: their
-- packages score from the last activity date (djangopackages counts no commits for them), and a repository
-- Bitbucket no longer has (a removed Mercurial one) is recorded as gone.
CREATE TABLE forge_repository_snapshots (
    snapshot_date DATE NOT NULL,
    host VARCHAR NOT NULL,            -- gitlab | bitbucket
    path VARCHAR NOT NULL,            -- lower-cased: group/sub/project (GitLab), workspace/repo_slug (Bitbucket)
    status VARCHAR NOT NULL,          -- ok | gone (404) | deferred (not asked: budget spent) | failed
    asked_on DATE,                    -- when the state was fetched; earlier than snapshot_date when carried
    last_activity_at TIMESTAMPTZ,     -- GitLab last_activity_at, Bitbucket updated_on
    stars BIGINT,                     -- GitLab star_count (Bitbucket has none)
    forks BIGINT,                     -- GitLab forks_count
    archived BOOLEAN                  -- GitLab archived
);
