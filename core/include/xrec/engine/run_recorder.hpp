#pragma once
// The run recorder: everything a run writes outside its results' computation, in one object. It opens
// the store, inserts the run row, makes the run folder (with config.yaml and run.log), adds the log file
// to the logger, records plugins, artifacts and final metrics, and closes the run (RunScope: leaving it
// without finish() or fail() closes the run as failed).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/transfer.hpp"
#include "xrec/config.hpp"
#include "xrec/loader.hpp"
#include "xrec/store.hpp"

namespace xrec::engine {

// The folder of run `run` of the store at `db_path`: <store folder>/<store file stem>/<run id>, e.g.
// runs/xrec.db -> runs/xrec/12. Each store has its own namespace, so two stores in one folder never share
// a run folder. A store file without an extension uses <name>.runs (its stem is its own name).
std::filesystem::path run_folder(const std::string& db_path, int64_t run);

// Refuses an empty store path (`--db=`, `XREC_DB=`): SQLite would open a temporary database and the run
// would be lost. Throws InputError.
void check_db_path(const std::string& db_path);

class RunRecorder {
 public:
  // Opens (or creates) the store, marks abandoned runs interrupted and inserts the run row with the
  // resolved config's flattened params. `console` is the session's logger; the recorder's logger adds
  // the run's log file to its sinks once the folder exists.
  RunRecorder(const std::string& db_path, const RunInfo& info, const ResolvedConfig& config,
              std::shared_ptr<spdlog::logger> console);
  // `xrec run --resume`: reopens closed, unfinished run `resume` of the store (Store::resume_run) instead of
  // inserting a row; open_folder then appends to its run.log.
  RunRecorder(const std::string& db_path, int64_t resume, std::shared_ptr<spdlog::logger> console);
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  int64_t id() const { return run_; }
  Store& store() { return store_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::shared_ptr<spdlog::logger>& log() const { return log_; }

  // Creates the run folder, writes config.yaml, starts run.log; records both as artifacts.
  void open_folder(const std::string& config_yaml);
  // One plugins row per library providing a component of the config.
  void record_plugins(const PluginLoader& loader, const ResolvedConfig& config);
  void add_artifact(const std::string& kind, const std::string& path);
  // The final metrics (valid, test) and the run's wall time.
  void record_result(const TransferResult& result, double seconds);

  void finish();
  void fail(RunStatus status, const std::string& error);

 private:
  Store store_;
  int64_t run_ = 0;
  std::unique_ptr<RunScope> scope_;
  std::filesystem::path dir_;
  std::vector<spdlog::sink_ptr> sinks_;
  std::shared_ptr<spdlog::logger> log_;
  bool resumed_ = false;
};

}  // namespace xrec::engine
