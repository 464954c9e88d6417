#include "xrec/engine/run_recorder.hpp"

#include <spdlog/sinks/basic_file_sink.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "xrec/api/errors.hpp"
#include "xrec/engine/startup.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

void check_db_path(const std::string& db_path) {
  if (db_path.empty())
    throw InputError("the store path is empty (--db= or XREC_DB=\"\"): give a store file, e.g. --db runs/xrec.db");
}

fs::path run_folder(const std::string& db_path, int64_t run) { return store_files_dir(db_path) / std::to_string(run); }

RunRecorder::RunRecorder(const std::string& db_path, const RunInfo& info, const ResolvedConfig& config,
                         std::shared_ptr<spdlog::logger> console)
    : store_((check_db_path(db_path), db_path)), log_(std::move(console)) {
  // A run's work must outlast another process holding the store for a while (a long query, a VACUUM):
  // metrics are buffered meanwhile (Store::log_metric) and the closing writes wait this long.
  store_.set_write_patience(std::chrono::minutes(10));
  sinks_ = log_->sinks();
  if (int n = store_.reconcile_stale_runs()) log_->info("marked {} abandoned run(s) as interrupted", n);
  run_ = store_.begin_run(info, config.flat);
  scope_ = std::make_unique<RunScope>(store_, run_);
}

RunRecorder::RunRecorder(const std::string& db_path, int64_t resume, std::shared_ptr<spdlog::logger> console)
    : store_((check_db_path(db_path), db_path)), log_(std::move(console)), resumed_(true) {
  sinks_ = log_->sinks();
  if (int n = store_.reconcile_stale_runs()) log_->info("marked {} abandoned run(s) as interrupted", n);
  store_.resume_run(resume);
  run_ = resume;
  scope_ = std::make_unique<RunScope>(store_, run_);
}

void RunRecorder::open_folder(const std::string& config_yaml) {
  dir_ = run_folder(store_.path(), run_);
  fs::create_directories(dir_);
  store_.set_run_dir(run_, dir_.string());
  std::ofstream(dir_ / "config.yaml") << config_yaml;
  add_artifact("config", (dir_ / "config.yaml").string());
  sinks_.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>((dir_ / "run.log").string(), !resumed_));
  log_ = make_logger(log_->name(), sinks_);
  store_.add_artifact(run_, "log", (dir_ / "run.log").string(), 0);
}

void RunRecorder::record_plugins(const PluginLoader& loader, const ResolvedConfig& config) {
  std::vector<std::string> recorded;
  for (auto& c : config.components)
    if (auto* p = loader.provider(c.kind, c.type);
        p && std::find(recorded.begin(), recorded.end(), p->name) == recorded.end()) {
      store_.add_plugin(run_, p->name, p->version, p->path, p->sha256);
      recorded.push_back(p->name);
    }
}

void RunRecorder::add_artifact(const std::string& kind, const std::string& path) {
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec);
  store_.add_artifact(run_, kind, path, ec ? 0 : static_cast<int64_t>(bytes));
}

void RunRecorder::record_result(const TransferResult& result, double seconds) {
  for (auto& [k, v] : result.valid) store_.log_final(run_, "valid", k, v);
  for (auto& [k, v] : result.test) store_.log_final(run_, "test", k, v);
  store_.log_final(run_, "run", "seconds", seconds);
}

void RunRecorder::finish() { scope_->finish(); }

void RunRecorder::fail(RunStatus status, const std::string& error) { scope_->fail(status, error); }

}  // namespace xrec::engine
