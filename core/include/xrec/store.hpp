#pragma once
// The run store: one SQLite file (WAL, busy timeout, versioned schema with migrations). Every run,
// its resolved config, flattened params, per-epoch and final metrics, plugins and artifacts.
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace xrec {

// A sweep as the store holds it (`xrec sweep`; core/src/store/sweeps.cpp).
struct SweepRecord {
  int64_t id = 0;
  std::string name, status, created_at, select_metric;
  bool select_higher_is_better = true;
};

// One trial of a sweep (table trials): a point's overrides with one seed.
struct TrialRecord {
  std::string key;  // sha256(config_hash + plugins_sha): what resume compares
  int64_t point = 0;
  std::string point_label;
  int64_t seed = 0;
  std::string config_hash, plugins_sha, plugins;
  std::string status = "pending";  // pending, running, finished, failed, interrupted
  std::optional<int64_t> run_id;
  int64_t attempts = 0;
  std::string error;
};

struct RunInfo {
  std::string name;
  std::optional<int64_t> sweep_id;
  std::string config_yaml, config_hash;
  int64_t seed = 0;
  int64_t threads = 0;
  std::string device, blas;
  std::string host, git_sha, xrec_version, torch_version;
  std::string command;        // the command line that started the run
  std::string run_dir;        // artifact folder
  std::string select_metric;  // validation metric key that selects the best epoch, e.g. "ndcg@10"
  bool select_higher_is_better = true;
  int64_t pid = 0;  // the process that runs it; 0 = this process (reconcile_stale_runs checks it)
};

// One evaluated case of a reported evaluation (table case_ranks).
struct CaseRank {
  int64_t user = 0, target = 0;
  int64_t rank = 0;        // 0-based rank of the target
  int64_t candidates = 0;  // items ranked, target included
};

// A checkpoint artifact of a run (artifacts.kind = 'checkpoint').
struct CheckpointRecord {
  std::string path;
  int64_t bytes = 0;
  std::string sha256;  // "" for a row written before schema 4
};

// Where a stage's starting weights came from (table stage_inputs; core/src/store/stage_inputs.cpp).
struct StageInput {
  std::string stage;
  std::string source;  // init_from | cache | cache_store | resume
  std::optional<int64_t> source_run;
  std::string source_stage;  // "" = NULL
  std::string cache_key;     // "" = NULL
  std::string path, sha256;
};

// What Store::merge did (`xrec merge`).
struct MergeReport {
  int shards = 0;
  int runs_added = 0, runs_skipped = 0, runs_updated = 0;  // skipped: merged before
  int sweeps_added = 0;
  int trials_added = 0, trials_updated = 0;
};

enum class RunStatus { Running, Finished, Failed, Interrupted };
const char* to_string(RunStatus s);

// The folder where a store keeps its files, beside the store file: <store folder>/<store stem>/ (a store
// file without an extension: <name>.runs/). It holds the run folders (<id>/), the stage cache (cache/),
// sweep trial logs and inline bases (sweeps/<id>/) and Slurm arrays (slurm/<name>/), so two stores in one
// folder never share a file (sweep ids and run ids restart at 1 in every store).
std::filesystem::path store_files_dir(const std::string& db_path);

// The storage class of one result value, as SQLite reports it.
enum class SqlType { Null, Integer, Real, Text, Blob };

struct QueryResult {
  std::vector<std::string> columns;
  // Values as text: integers and reals as SQLite prints them (reals with up to 15 significant digits),
  // blobs as X'hex'. nullopt = SQL NULL.
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::vector<std::vector<SqlType>> types;  // parallel to rows
  int64_t changes = 0;                      // rows inserted, updated or deleted by a writing statement
};

// RFC 4180 CSV (header line, CRLF line ends, NULL as an empty field).
std::string to_csv(const QueryResult& result);
// A JSON array of objects keyed by column name; numbers unquoted, NULL as null, non-finite reals as
// null (JSON has no Inf), blobs as hex strings.
std::string to_json(const QueryResult& result);

class Store {
 public:
  // Opens or creates the store (creating parent folders) and migrates it to the current schema.
  // read_only opens an existing file without writing (used by `xrec query`).
  explicit Store(const std::string& path, bool read_only = false);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version() const;
  // The newest schema version this binary knows (the last migration in core/sql/schema.sql).
  static int latest_schema_version();
  // The first schema version with sweep trials (migration 3); planning a sweep reads any store from it on.
  static constexpr int kFirstTrialsSchemaVersion = 3;
  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }

  // How long one SQLite call waits for a lock held by another process (default 10 s).
  void set_busy_timeout(std::chrono::milliseconds timeout);
  // How long a write keeps retrying, with backoff, while another process holds the write lock, before it
  // fails (default: the busy timeout). A run sets it long: its work must not be lost to a busy store.
  void set_write_patience(std::chrono::milliseconds patience);
  // Metrics not yet written because the store was locked (log_metric buffers them and returns, so
  // training goes on); every other write, finish_run and the destructor write them first.
  size_t pending_metrics() const { return pending_.size(); }
  // Writes the buffered metrics, waiting up to the write patience; throws when the lock outlasts it (the
  // metrics stay buffered).
  void flush_metrics();

  int64_t create_sweep(const std::string& name, const std::string& base_config_yaml,
                       const std::string& base_config_hash);

  int64_t begin_run(const RunInfo& info, const std::vector<std::pair<std::string, std::string>>& params);
  void log_metric(int64_t run, const std::string& stage, const std::string& split, const std::string& key,
                  int64_t step, double value);
  void log_final(int64_t run, const std::string& split, const std::string& key, double value);
  // Replaces the case ranks of (run, stage, split) by `cases` (case_index = position), in one transaction.
  void log_case_ranks(int64_t run, const std::string& stage, const std::string& split,
                      const std::vector<CaseRank>& cases);
  // The stored case ranks of (run, stage, split) in case order; empty when there are none.
  std::vector<CaseRank> case_ranks(int64_t run, const std::string& stage, const std::string& split);
  // Stages of `run` that have case ranks for `split`, sorted.
  std::vector<std::string> case_rank_stages(int64_t run, const std::string& split);
  void add_plugin(int64_t run, const std::string& name, const std::string& version, const std::string& path,
                  const std::string& sha256);
  // sha256: the file's checksum when it is complete (checkpoints); "" stores NULL.
  void add_artifact(int64_t run, const std::string& kind, const std::string& path, int64_t bytes,
                    const std::string& sha256 = "");
  // The checkpoint artifact of `run` whose file is <stage>-best.pt (or <stage>-last.pt with last = true).
  std::optional<CheckpointRecord> stage_checkpoint(int64_t run, const std::string& stage, bool last = false);
  // The run's status ("running", "finished", ...), or nullopt when the store has no such run.
  std::optional<std::string> run_status(int64_t run);
  // Records (replaces) where a stage of `run` started from.
  void add_stage_input(int64_t run, const StageInput& input);
  std::vector<StageInput> stage_inputs(int64_t run);
  // `xrec run --resume`: a closed, unfinished run becomes 'running' again in this process (pid, host,
  // resumed_at, resumes + 1; ended_at and error cleared). Throws InputError when it is running or finished.
  void resume_run(int64_t run);
  void set_run_dir(int64_t run, const std::string& dir);
  // Closes a run; error is stored for failed/interrupted runs.
  void finish_run(int64_t run, RunStatus status, const std::string& error = "");
  // Runs still 'running' whose process on this host is gone become 'interrupted'. Returns how many.
  int reconcile_stale_runs();

  // Sweeps (core/src/store/sweeps.cpp). open_sweep finds the sweep called `name` (or creates it) and
  // makes this process its driver: status 'running', driver pid/host, heartbeat now. A sweep held by a
  // live driver elsewhere is an InputError; one whose driver vanished is taken over, and its trials left
  // 'running' become 'interrupted' (so they are re-queued). Returns the sweep id.
  int64_t open_sweep(const std::string& name, const std::string& spec_yaml, const std::string& base_config_yaml,
                     const std::string& base_config_hash, const std::string& select_metric, bool higher_is_better);
  std::optional<SweepRecord> find_sweep(const std::string& name_or_id) const;
  void sweep_heartbeat(int64_t sweep);
  // Records the variant whose trials are the scratch references of the others ("" = none; view
  // transfer_vs_scratch).
  void set_sweep_reference(int64_t sweep, const std::string& variant);
  void close_sweep(int64_t sweep, RunStatus status);
  // Trials of a sweep in point, seed order (those of earlier specs included).
  std::vector<TrialRecord> trials(int64_t sweep) const;
  // Makes `trials` the sweep's current ones: adds those whose key the sweep lacks (as 'pending') and marks
  // the others of the sweep as from an earlier spec (trials.current = 0), in one transaction; returns how
  // many were added.
  int add_trials(int64_t sweep, const std::vector<TrialRecord>& trials);
  void trial_started(int64_t sweep, const std::string& key, int64_t pid);
  void trial_run(int64_t sweep, const std::string& key, int64_t run);
  void trial_ended(int64_t sweep, const std::string& key, RunStatus status, const std::string& error = "");
  // Closes a run still 'running' whose process the caller saw end (a crashed sweep trial); false when it
  // was already closed.
  bool close_orphan_run(int64_t run, RunStatus status, const std::string& error);

  // Folds shard stores (one per Slurm array task) into this one, in one transaction: sweeps (by name),
  // runs with their params, metrics, final metrics, plugins, artifacts and case ranks (ids remapped),
  // trials (the copy with more attempts wins). A run merged before is recognised by (host, pid,
  // started_at, config_hash), so merging a shard twice adds nothing. A shard that is not a store, is of
  // another schema version or is this store is an InputError and nothing is written (merge.cpp).
  MergeReport merge(const std::vector<std::string>& shard_paths);

  // Runs SQL and returns the table. read_only (default) rejects statements that write.
  QueryResult query(const std::string& sql, bool read_only = true) const;

 private:
  void open();
  void open_immutable();
  void refuse_foreign_database() const;
  void migrate();
  // Writes the buffered metrics in one transaction. patient: wait up to the write patience (or throw);
  // otherwise one try (a short one while already buffering) and false when the store is still locked.
  bool write_pending_metrics(bool patient);
  sqlite3_stmt* statement(const char* sql);  // prepared once per Store, reset after each use
  [[noreturn]] void fail_sqlite(const std::string& what) const;

  std::string path_;
  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  std::map<std::string, sqlite3_stmt*> statements_;
  int busy_timeout_ms_;
  int64_t write_patience_ms_;
  struct PendingMetric {
    int64_t run;
    std::string stage, split, key;
    int64_t step;
    double value;
  };
  std::vector<PendingMetric> pending_;
  std::chrono::steady_clock::time_point next_try_{};  // while buffering: no new try before this
};

// Closes the run when the scope ends: finish() records success, fail() an error (use
// RunStatus::Interrupted for xrec::Interrupted); leaving the scope with neither closes it as failed, so
// a run row never stays 'running' after its process left the scope. The destructor never throws.
class RunScope {
 public:
  RunScope(Store& store, int64_t run) : store_(store), run_(run), exceptions_(std::uncaught_exceptions()) {}
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  ~RunScope();
  void finish();
  void fail(RunStatus status, const std::string& error);
  int64_t id() const { return run_; }

 private:
  Store& store_;
  int64_t run_;
  int exceptions_;  // in flight when the scope began: more at destruction means unwinding
  bool closed_ = false;
};

}  // namespace xrec
