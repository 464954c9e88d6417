#include "xrec/engine/data_stage.hpp"

#include <spdlog/spdlog.h>

#include "xrec/api/errors.hpp"

namespace xrec::engine {

DataStage::DataStage(const Registry& registry, const ResolvedConfig& config, const PluginContext& ctx, Store* store,
                     int64_t run) {
  const uint64_t seed = static_cast<uint64_t>(config.section("").integer("seed"));
  const std::vector<const ComponentConfig*> data = data_sections(config);
  for (size_t i = 0; i < data.size(); ++i) {
    const char* role = i == 0 ? "target" : "source";
    PluginContext c = ctx;
    c.log = ctx.log->clone(data[i]->type);
    domains_.push_back(load_domain(registry, *data[i], c));
    const LoadedDomain& loaded = domains_.back();
    const DomainData& d = loaded.data;
    const DomainStats st = domain_stats(d);
    ctx.log->info("{} '{}': {} users, {} items, {} interactions, density {:.4f}% ({} in {:.2f}s)", role, d.name,
                  st.users, st.items, st.interactions, 100 * st.density,
                  loaded.from_cache ? "from the data cache" : "loaded", loaded.load_seconds);
    tasks_.push_back(make_task(d, role, i, config, seed, *data[i]));
    train_users_.push_back(static_cast<int64_t>(tasks_.back().train.size()));
  }
  if (store) record(*store, run);
}

void DataStage::record(Store& store, int64_t run) const {
  for (size_t i = 0; i < domains_.size(); ++i) {
    const LoadedDomain& loaded = domains_[i];
    const DomainData& d = loaded.data;
    const DomainStats st = domain_stats(d);
    store.log_metric(run, "data", d.name, "users", 0, static_cast<double>(st.users));
    store.log_metric(run, "data", d.name, "items", 0, static_cast<double>(st.items));
    store.log_metric(run, "data", d.name, "interactions", 0, static_cast<double>(st.interactions));
    store.log_metric(run, "data", d.name, "density", 0, st.density);
    store.log_metric(run, "data", d.name, "load_seconds", 0, loaded.load_seconds);
    store.log_metric(run, "data", d.name, "from_cache", 0, loaded.from_cache ? 1.0 : 0.0);
    store.log_metric(run, "data", d.name, "train_users", 0, static_cast<double>(train_users_[i]));
  }
}

std::vector<Task> DataStage::take_tasks() {
  if (tasks_.empty()) throw Error("DataStage::take_tasks: the tasks were already taken");
  return std::move(tasks_);
}

}  // namespace xrec::engine
