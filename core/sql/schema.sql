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

-- @migration 3: sweep trials, the sweep driver's liveness, and the views sweep_points and sweep_trials
-- A sweep (xrec sweep) is found again by its name; its spec, select metric and the driver that runs it
-- now are recorded. driver_pid/driver_host/heartbeat_at say who holds it: a 'running' sweep whose driver
-- process is gone (or whose heartbeat is older than two minutes) is taken over by the next `xrec sweep`.
ALTER TABLE sweeps ADD COLUMN spec_yaml TEXT;
ALTER TABLE sweeps ADD COLUMN select_metric TEXT;
ALTER TABLE sweeps ADD COLUMN select_mode TEXT NOT NULL DEFAULT 'max' CHECK (select_mode IN ('max', 'min'));
ALTER TABLE sweeps ADD COLUMN status TEXT NOT NULL DEFAULT 'finished'
  CHECK (status IN ('running', 'finished', 'failed', 'interrupted'));
ALTER TABLE sweeps ADD COLUMN ended_at TEXT;
ALTER TABLE sweeps ADD COLUMN driver_host TEXT;
ALTER TABLE sweeps ADD COLUMN driver_pid INTEGER;
ALTER TABLE sweeps ADD COLUMN heartbeat_at TEXT;
CREATE INDEX sweeps_by_name ON sweeps (name);

-- One row per trial of a sweep: a point (its overrides) and a seed. trial_key is the sha256 of the
-- trial's resolved-config hash and of the sha256 of every plugin its components come from, so a changed
-- config or plugin is a new trial and a finished trial with the same key is skipped on resume.
-- run_id is the trial's latest run (runs.sweep_id ties every attempt to the sweep); attempts counts them.
-- pid is the child process of a running trial.
CREATE TABLE trials (
  sweep_id    INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  trial_key   TEXT NOT NULL CHECK (length(trial_key) = 64),
  point       INTEGER NOT NULL CHECK (point >= 0),  -- index of the point in the expanded spec
  point_label TEXT NOT NULL,  -- 'train.lr=0.001 baseline.type=pop': the point's overrides
  seed        INTEGER NOT NULL,
  config_hash TEXT NOT NULL,
  plugins_sha TEXT NOT NULL,  -- sha256 over the sorted 'name:sha256' of the plugins it uses
  plugins     TEXT NOT NULL,  -- the same list as text, to name the plugin that changed
  status      TEXT NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'running', 'finished', 'failed', 'interrupted')),
  run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  pid         INTEGER,
  started_at  TEXT,
  ended_at    TEXT,
  error       TEXT,
  -- 1 when the sweep's latest spec holds this trial; 0 for trials of an earlier spec (a dropped grid
  -- value, a config or plugin that changed since): kept with their runs, left out of the views.
  current     INTEGER NOT NULL DEFAULT 1 CHECK (current IN (0, 1)),
  PRIMARY KEY (sweep_id, trial_key)
);
CREATE INDEX trials_by_status ON trials (sweep_id, status);

-- One row per trial of the sweep's latest spec: its point, seed, status and run, with the run's final
-- select metric on validation and the same key on test.
CREATE VIEW sweep_trials AS
SELECT t.sweep_id,
       s.name AS sweep,
       t.point,
       t.point_label,
       t.seed,
       t.status,
       t.attempts,
       t.run_id,
       s.select_metric AS metric,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = t.run_id AND f.split = 'valid' AND f.key = s.select_metric) AS valid_value,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = t.run_id AND f.split = 'test' AND f.key = s.select_metric) AS test_value,
       t.trial_key,
       t.error
FROM trials AS t
JOIN sweeps AS s ON s.id = t.sweep_id
WHERE t.current = 1;

-- One row per point of a sweep: trials finished / failed, and mean and sample standard deviation over
-- the finished seeds of the select metric on validation and test (std is NULL below two seeds).
CREATE VIEW sweep_points AS
SELECT sweep_id,
       sweep,
       min(point) AS point,
       point_label,
       metric,
       count(*) AS trials,
       sum(status = 'finished') AS finished,
       sum(status = 'failed') AS failed,
       avg(CASE WHEN status = 'finished' THEN valid_value END) AS valid_mean,
       CASE WHEN sum(status = 'finished' AND valid_value IS NOT NULL) > 1 THEN
         sqrt(max(0.0, (sum(CASE WHEN status = 'finished' THEN valid_value * valid_value END)
                        - sum(CASE WHEN status = 'finished' THEN valid_value END)
                          * avg(CASE WHEN status = 'finished' THEN valid_value END))
                       / (sum(status = 'finished' AND valid_value IS NOT NULL) - 1))) END AS valid_std,
       avg(CASE WHEN status = 'finished' THEN test_value END) AS test_mean,
       CASE WHEN sum(status = 'finished' AND test_value IS NOT NULL) > 1 THEN
         sqrt(max(0.0, (sum(CASE WHEN status = 'finished' THEN test_value * test_value END)
                        - sum(CASE WHEN status = 'finished' THEN test_value END)
                          * avg(CASE WHEN status = 'finished' THEN test_value END))
                       / (sum(status = 'finished' AND test_value IS NOT NULL) - 1))) END AS test_std
FROM sweep_trials
GROUP BY sweep_id, point_label;

-- @migration 4: checkpoint checksums and the inputs a stage started from (init_from, stage cache, resume)
-- The sha256 of an artifact file when it was written (NULL for older rows and for files still growing,
-- such as run.log). init_from checks a checkpoint against it before loading.
ALTER TABLE artifacts ADD COLUMN sha256 TEXT;

-- One row per stage of a run that did not start from the model the run itself built: its weights came
-- from another run's stage checkpoint (source 'init_from', source_run and source_stage set), from the
-- store's stage cache (source 'cache', cache_key set), or the stage continued from the run's own last
-- epoch checkpoint after `xrec run --resume` (source 'resume'). path and sha256 name the file read.
-- A stage whose output went into the cache on a miss is recorded with source 'cache_store'.
CREATE TABLE stage_inputs (
  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  stage        TEXT NOT NULL,
  source       TEXT NOT NULL CHECK (source IN ('init_from', 'cache', 'cache_store', 'resume')),
  source_run   INTEGER REFERENCES runs (id) ON DELETE SET NULL,
  source_stage TEXT,
  cache_key    TEXT CHECK (cache_key IS NULL OR length(cache_key) = 64),
  path         TEXT NOT NULL,
  sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, stage, source)
);
CREATE INDEX stage_inputs_by_source ON stage_inputs (source_run, source_stage);

-- `xrec run --resume RUN` continues a run in a new process under the same id: when it last did, and how
-- often (the liveness check of a running run compares the process with resumed_at when it is set).
ALTER TABLE runs ADD COLUMN resumed_at TEXT;
ALTER TABLE runs ADD COLUMN resumes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX stage_inputs_by_key ON stage_inputs (cache_key);
-- @migration 5: sweeps.reference and the view transfer_vs_scratch (negative-transfer report)
-- The variant of a sweep whose trials are the reference (scratch) runs of its other variants: the sweep
-- spec's `reference:` (docs/sweeps.md). NULL: the sweep has no reference.
ALTER TABLE sweeps ADD COLUMN reference TEXT;

-- One row per finished transfer trial (a current trial of a sweep with a reference, not of the reference
-- variant) paired with its reference scratch trial: same sweep, same seed, same target data section and
-- same evaluation (the eval and split sections). A section's identity is its flattened key=value lines in
-- key order (data_key, eval_key; settings that do not change results, such as data.target.cache and
-- eval.batch_size, are left out). candidates counts the reference trials that match: reference_run is set
-- only when exactly one does; 0 (no reference) or more (ambiguous: say a grid varies the reference too)
-- leave it NULL, and `xrec report transfer` refuses such rows instead of guessing. Values are the sweep's
-- select metric (final metrics, validation and test); relative_diff = (transfer - reference) / reference on
-- test.
CREATE VIEW transfer_vs_scratch AS
WITH sections AS (
  SELECT r.id AS run_id,
         (SELECT group_concat(p.key || '=' || p.value, char(10)) FROM params AS p
          WHERE p.run_id = r.id AND (p.key = 'data.target' OR p.key LIKE 'data.target.%')
            AND p.key <> 'data.target.cache') AS data_key,
         (SELECT group_concat(p.key || '=' || p.value, char(10)) FROM params AS p
          WHERE p.run_id = r.id AND (p.key LIKE 'eval.%' OR p.key LIKE 'split.%')
            AND p.key NOT IN ('eval.batch_size', 'eval.save_ranks')) AS eval_key
  FROM runs AS r
  WHERE r.sweep_id IS NOT NULL AND r.status = 'finished'
),
trial_runs AS (
  SELECT t.sweep_id, s.name AS sweep, s.reference, s.select_metric AS metric, s.select_mode, t.point,
         t.point_label, t.seed, t.run_id,
         (t.point_label = s.reference OR substr(t.point_label, 1, length(s.reference) + 1) = s.reference || ' ')
           AS is_reference,
         sections.data_key, sections.eval_key
  FROM trials AS t
  JOIN sweeps AS s ON s.id = t.sweep_id
  JOIN sections ON sections.run_id = t.run_id
  WHERE t.current = 1 AND t.status = 'finished' AND s.reference IS NOT NULL
),
paired AS (
  SELECT x.*,
         (SELECT count(*) FROM trial_runs AS y
          WHERE y.sweep_id = x.sweep_id AND y.is_reference AND y.seed = x.seed
            AND y.data_key IS x.data_key AND y.eval_key IS x.eval_key) AS candidates,
         (SELECT max(y.run_id) FROM trial_runs AS y
          WHERE y.sweep_id = x.sweep_id AND y.is_reference AND y.seed = x.seed
            AND y.data_key IS x.data_key AND y.eval_key IS x.eval_key) AS any_reference
  FROM trial_runs AS x
  WHERE NOT x.is_reference
),
valued AS (
SELECT p.sweep_id,
       p.sweep,
       p.point,
       p.point_label,
       p.seed,
       p.run_id AS transfer_run,
       CASE WHEN p.candidates = 1 THEN p.any_reference END AS reference_run,
       p.candidates,
       p.reference AS reference_variant,
       p.metric,
       p.select_mode,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = p.run_id AND f.split = 'valid' AND f.key = p.metric) AS transfer_valid,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = p.run_id AND f.split = 'test' AND f.key = p.metric) AS transfer_test,
       CASE WHEN p.candidates = 1 THEN
         (SELECT f.value FROM final_metrics AS f
          WHERE f.run_id = p.any_reference AND f.split = 'valid' AND f.key = p.metric) END AS reference_valid,
       CASE WHEN p.candidates = 1 THEN
         (SELECT f.value FROM final_metrics AS f
          WHERE f.run_id = p.any_reference AND f.split = 'test' AND f.key = p.metric) END AS reference_test,
       p.data_key,
       p.eval_key
FROM paired AS p
)
SELECT v.*,
       CASE WHEN v.reference_test <> 0 THEN (v.transfer_test - v.reference_test) / v.reference_test END
         AS relative_diff
FROM valued AS v;

-- @migration 6: transfer_vs_scratch lists transfer runs only
-- A variant that reads no source domain (another scratch baseline, say scratch with ids beside the
-- reference scratch with the encoder, or a ceiling on the full target) is not a transfer run: version 5
-- paired it with the reference and flagged it as negative transfer when it lost. Now a row needs a run whose
-- config lists at least one source domain (a data.sources[i] parameter); otherwise the view is unchanged.
DROP VIEW transfer_vs_scratch;
CREATE VIEW transfer_vs_scratch AS
WITH sections AS (
  SELECT r.id AS run_id,
         (SELECT group_concat(p.key || '=' || p.value, char(10)) FROM params AS p
          WHERE p.run_id = r.id AND (p.key = 'data.target' OR p.key LIKE 'data.target.%')
            AND p.key <> 'data.target.cache') AS data_key,
         (SELECT group_concat(p.key || '=' || p.value, char(10)) FROM params AS p
          WHERE p.run_id = r.id AND (p.key LIKE 'eval.%' OR p.key LIKE 'split.%')
            AND p.key NOT IN ('eval.batch_size', 'eval.save_ranks')) AS eval_key
  FROM runs AS r
  WHERE r.sweep_id IS NOT NULL AND r.status = 'finished'
),
trial_runs AS (
  SELECT t.sweep_id, s.name AS sweep, s.reference, s.select_metric AS metric, s.select_mode, t.point,
         t.point_label, t.seed, t.run_id,
         (t.point_label = s.reference OR substr(t.point_label, 1, length(s.reference) + 1) = s.reference || ' ')
           AS is_reference,
         sections.data_key, sections.eval_key,
         EXISTS (SELECT 1 FROM params AS p WHERE p.run_id = t.run_id AND p.key LIKE 'data.sources[%')
           AS reads_sources
  FROM trials AS t
  JOIN sweeps AS s ON s.id = t.sweep_id
  JOIN sections ON sections.run_id = t.run_id
  WHERE t.current = 1 AND t.status = 'finished' AND s.reference IS NOT NULL
),
paired AS (
  SELECT x.*,
         (SELECT count(*) FROM trial_runs AS y
          WHERE y.sweep_id = x.sweep_id AND y.is_reference AND y.seed = x.seed
            AND y.data_key IS x.data_key AND y.eval_key IS x.eval_key) AS candidates,
         (SELECT max(y.run_id) FROM trial_runs AS y
          WHERE y.sweep_id = x.sweep_id AND y.is_reference AND y.seed = x.seed
            AND y.data_key IS x.data_key AND y.eval_key IS x.eval_key) AS any_reference
  FROM trial_runs AS x
  WHERE NOT x.is_reference AND x.reads_sources
),
valued AS (
SELECT p.sweep_id,
       p.sweep,
       p.point,
       p.point_label,
       p.seed,
       p.run_id AS transfer_run,
       CASE WHEN p.candidates = 1 THEN p.any_reference END AS reference_run,
       p.candidates,
       p.reference AS reference_variant,
       p.metric,
       p.select_mode,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = p.run_id AND f.split = 'valid' AND f.key = p.metric) AS transfer_valid,
       (SELECT f.value FROM final_metrics AS f
        WHERE f.run_id = p.run_id AND f.split = 'test' AND f.key = p.metric) AS transfer_test,
       CASE WHEN p.candidates = 1 THEN
         (SELECT f.value FROM final_metrics AS f
          WHERE f.run_id = p.any_reference AND f.split = 'valid' AND f.key = p.metric) END AS reference_valid,
       CASE WHEN p.candidates = 1 THEN
         (SELECT f.value FROM final_metrics AS f
          WHERE f.run_id = p.any_reference AND f.split = 'test' AND f.key = p.metric) END AS reference_test,
       p.data_key,
       p.eval_key
FROM paired AS p
)
SELECT v.*,
       CASE WHEN v.reference_test <> 0 THEN (v.transfer_test - v.reference_test) / v.reference_test END
         AS relative_diff
FROM valued AS v;
