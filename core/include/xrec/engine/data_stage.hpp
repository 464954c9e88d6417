#pragma once
// The data stage of a run: every data section of the config (target first, then the sources) loaded
// (cache, features, preprocessing), split into a Task and, when a store is given, its statistics
// recorded as `data` metrics of the run.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "xrec/api/context.hpp"
#include "xrec/api/task.hpp"
#include "xrec/config.hpp"
#include "xrec/data/data_pipeline.hpp"
#include "xrec/registry.hpp"
#include "xrec/store.hpp"

namespace xrec::engine {

class DataStage {
 public:
  // Loads and splits every domain; logs one line per domain with `ctx.log`. With `store`, records users,
  // items, interactions, density, load_seconds, from_cache and train_users under stage `data` of `run`.
  DataStage(const Registry& registry, const ResolvedConfig& config, const PluginContext& ctx, Store* store = nullptr,
            int64_t run = 0);

  // The domains in order (stable addresses: the tasks point at them).
  const std::deque<LoadedDomain>& domains() const { return domains_; }
  // Records the data metrics of every domain for `run` (done by the constructor when given a store; for a
  // caller that loads the data before the run row exists).
  void record(Store& store, int64_t run) const;
  // The tasks, target first; moved out once (RunContext takes them).
  std::vector<Task> take_tasks();

 private:
  std::deque<LoadedDomain> domains_;
  std::vector<Task> tasks_;
  std::vector<int64_t> train_users_;
};

}  // namespace xrec::engine
