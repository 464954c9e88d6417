-- The xrec run store: one SQLite file (runs/xrec.db by default). See docs/sql.md for every table and
-- example queries.
--
-- This file is compiled into the binary. Each "-- @migration N: description" section brings a store
-- from schema version N-1 to N; the store applies the missing ones in order, each in one transaction,
-- and records it in schema_version. Released sections are append-only: change the schema by adding a
-- section (ALTER TABLE, new views, data fixes), never by editing an old one.
--
-- Conventions: times are ISO-8601 UTC with milliseconds ('2024-05-01T12:03:04.123Z'), so they sort as
-- text and SQLite's date functions read them. Optional facts that are unknown are NULL, not ''.
-- SQLite has no NaN: a NaN metric value is stored as NULL.

-- @migration 1: runs, sweeps, params, metrics, final metrics, plugins, artifacts and two views
CREATE TABLE schema_version (
  version     INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Many runs of one base config (a sweep point per run); created by `xrec sweep`.
CREATE TABLE sweeps (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT NOT NULL,
  created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  base_config_yaml TEXT NOT NULL,
  base_config_hash TEXT NOT NULL
);

-- One row per run, written 'running' first and always closed. AUTOINCREMENT: an id is never reused,
-- even after deletes, because run folders are named after it.
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  sweep_id      INTEGER REFERENCES sweeps (id) ON DELETE SET NULL,
  name          TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
  started_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  ended_at      TEXT,
  host          TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  git_sha       TEXT,
  xrec_version  TEXT NOT NULL,
  torch_version TEXT,
  seed          INTEGER NOT NULL,
  threads       INTEGER NOT NULL,
  device        TEXT NOT NULL,
  blas          TEXT,
  command       TEXT,
  config_yaml   TEXT NOT NULL,
  config_hash   TEXT NOT NULL,
  run_dir       TEXT,
  select_metric TEXT,  -- the validation metric key that selects the best epoch, e.g. 'ndcg@10'
  select_mode   TEXT NOT NULL DEFAULT 'max' CHECK (select_mode IN ('max', 'min')),
  error         TEXT,
  -- A closed run has an end time, an open one has none.
  CHECK ((status = 'running') = (ended_at IS NULL))
);
CREATE INDEX runs_by_status ON runs (status, host);
CREATE INDEX runs_by_sweep ON runs (sweep_id);
CREATE INDEX runs_by_config ON runs (config_hash);
CREATE INDEX runs_by_start ON runs (started_at);

-- The resolved config flattened to dotted keys ('backbone.hidden' -> '64'), for SQL filters. Values
-- are text; compare numbers with CAST(value AS REAL).
CREATE TABLE params (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key    TEXT NOT NULL CHECK (key <> ''),
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_by_key ON params (key, value);

-- Metrics per step (an epoch, or an evaluation round) of a training stage ('', 'pretrain', 'target').
-- split is 'train', 'valid' or 'test' for model metrics (the views read 'valid' and 'test'); other
-- names hold facts such as data sizes. Logging the same (run, stage, split, key, step) again replaces
-- the value.
CREATE TABLE metrics (
  run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage     TEXT NOT NULL,
  split     TEXT NOT NULL CHECK (split <> ''),
  key       TEXT NOT NULL CHECK (key <> ''),
  step      INTEGER NOT NULL,
  value     REAL,
  logged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, stage, split, key, step)
);
CREATE INDEX metrics_by_key ON metrics (key, split);

-- The run's result: one value per split and key, from the selected model ('valid', 'test'; other
-- splits hold run facts such as 'run'/'seconds').
CREATE TABLE final_metrics (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  split  TEXT NOT NULL CHECK (split <> ''),
  key    TEXT NOT NULL CHECK (key <> ''),
  value  REAL,
  PRIMARY KEY (run_id, split, key)
);
CREATE INDEX final_metrics_by_key ON final_metrics (key, split);

-- The plugin libraries a run loaded, fingerprinted.
CREATE TABLE plugins (
  run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  version TEXT NOT NULL,
  path    TEXT NOT NULL,
  sha256  TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
);
CREATE INDEX plugins_by_sha ON plugins (sha256);

-- Files a run wrote (checkpoints, logs, predictions); rewriting a path updates its row.
CREATE TABLE artifacts (
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  path       TEXT NOT NULL,
  bytes      INTEGER NOT NULL CHECK (bytes >= 0),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, path)
);

-- Per run and stage: the step with the best validation value of the run's select_metric (ties: the
-- earliest step), that value, and the test value of the same key at that step when one was logged.
CREATE VIEW best_epoch AS
WITH ranked AS (
  SELECT m.run_id, m.stage, m.step, m.value,
         ROW_NUMBER() OVER (
           PARTITION BY m.run_id, m.stage
           ORDER BY CASE WHEN r.select_mode = 'min' THEN m.value ELSE -m.value END, m.step) AS rank
  FROM metrics AS m
  JOIN runs AS r ON r.id = m.run_id
  WHERE m.split = 'valid' AND m.key = r.select_metric AND m.value IS NOT NULL
)
SELECT ranked.run_id,
       ranked.stage,
       r.select_metric AS metric,
       ranked.step,
       ranked.value AS valid_value,
       (SELECT t.value FROM metrics AS t
        WHERE t.run_id = ranked.run_id AND t.stage = ranked.stage AND t.split = 'test'
          AND t.key = r.select_metric AND t.step = ranked.step) AS test_value
FROM ranked
JOIN runs AS r ON r.id = ranked.run_id
WHERE ranked.rank = 1;

-- One row per run: what `xrec runs` shows. duration_s counts up to now for a run still running.
CREATE VIEW run_overview AS
SELECT r.id,
       r.sweep_id,
       r.name,
       r.status,
       r.started_at,
       r.ended_at,
       round((julianday(coalesce(r.ended_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
              - julianday(r.started_at)) * 86400.0, 3) AS duration_s,
       r.host,
       r.pid,
       r.seed,
       r.threads,
       r.device,
       r.select_metric,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = r.id AND f.split = 'valid' AND f.key = r.select_metric) AS final_valid,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = r.id AND f.split = 'test' AND f.key = r.select_metric) AS final_test,
       r.config_hash,
       r.error
FROM runs AS r;

-- @migration 2: per-case ranks of reported evaluations, for paired significance tests (xrec compare)
-- One row per evaluation case of each evaluation a method reported (not the per-epoch validation):
-- the target's 0-based rank among `candidates` items (target included). Every ranking metric of a case
-- follows from (rank, candidates), so hr@K, ndcg@K, mrr, auc per user are SQL expressions over this
-- table (docs/sql.md). Two runs on the same data have the same (split, case_index, user, target).
CREATE TABLE case_ranks (
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage      TEXT NOT NULL,
  split      TEXT NOT NULL CHECK (split <> ''),
  case_index INTEGER NOT NULL CHECK (case_index >= 0),
  user       INTEGER NOT NULL,
  target     INTEGER NOT NULL,
  rank       INTEGER NOT NULL CHECK (rank >= 0),
  candidates INTEGER NOT NULL CHECK (candidates > rank),
  PRIMARY KEY (run_id, stage, split, case_index)
) WITHOUT ROWID;
