#pragma once
// What xrec_bench_train and xrec_bench_eval share: plugins, the Beauty task built as the engine builds it
// (user_sequences dataset plugin -> engine::load_domain -> leave_one_out), a SASRec HostSequenceModel with
// the quickstart settings, timers and a tiny JSON writer. Header-only: each bench is one translation unit.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/metrics.hpp"
#include "xrec/data/data_pipeline.hpp"
#include "xrec/engine/sequence_model.hpp"
#include "xrec/data/split.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

namespace xrec::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// CPU seconds of the whole process (all threads): with wall time it shows whether other processes took cores.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double load_average() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A flat JSON object built key by key (numbers, strings, nested raw JSON).
class Json {
 public:
  Json& num(const std::string& k, double v) {
    const bool whole = std::abs(v) < 1e15 && v == static_cast<double>(static_cast<int64_t>(v));
    return raw(k, whole ? std::to_string(static_cast<int64_t>(v)) : fixed(v, 6));
  }
  Json& str(const std::string& k, const std::string& v) { return raw(k, "\"" + v + "\""); }
  Json& raw(const std::string& k, const std::string& json) {
    out_ << (first_ ? "" : ", ") << "\"" << k << "\": " << json;
    first_ = false;
    return *this;
  }
  std::string text() const { return "{" + out_.str() + "}"; }

 private:
  std::ostringstream out_;
  bool first_ = true;
};

inline std::string metrics_json(const MetricMap& m) {
  Json j;
  for (auto& [k, v] : m) j.num(k, v);
  return j.text();
}

inline std::shared_ptr<spdlog::logger> quiet_logger() {
  auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_level(spdlog::level::warn);
  return log;
}

// Plugins of the build (or --plugins DIR); throws when the ones the bench needs are missing.
inline void load_plugins(Registry& registry, const std::string& dir, const std::shared_ptr<spdlog::logger>& log) {
  PluginLoader loader(registry);
  loader.load_dirs(dir.empty() ? default_plugin_dirs() : std::vector<std::string>{dir});
  for (auto& p : loader.problems()) log->warn("skipped plugin {}: {}", p.path, p.message);
  for (auto [kind, name] : {std::pair{Kind::Dataset, "user_sequences"}, std::pair{Kind::Backbone, "sasrec"}})
    if (!registry.find(kind, name))
      throw Error(std::string("bench: plugin component '") + name + "' not found in " +
                  (dir.empty() ? "the default plugin folders" : dir) +
                  " (build it: cmake --build <build> --target xrec_plugins, or pass --plugins DIR)");
}

// Beauty.txt through the user_sequences plugin and engine::load_domain (no cache, no attributes), as
// `data.target: {type: user_sequences, path: ...}` loads it.
inline DomainData load_sequences(const Registry& registry, const std::string& path,
                                 const std::shared_ptr<spdlog::logger>& log) {
  if (!fs::is_regular_file(path)) throw InputError("bench: no data file at '" + path + "' (pass --data FILE)");
  const Component& c = registry.get(Kind::Dataset, "user_sequences");
  ComponentConfig s;
  s.path = "data.target";
  s.kind = Kind::Dataset;
  s.type = "user_sequences";
  s.params = Params::defaults(c.params, "dataset (user_sequences)");
  for (auto& spec : engine::data_section_specs()) s.params.set(spec.name, spec.default_value);
  s.params.set("path", fs::absolute(path).string());
  s.params.set("attributes_file", std::string());
  s.params.set("cache", false);
  PluginContext ctx;
  ctx.log = log;
  return engine::load_domain(registry, s, ctx).data;
}

struct ModelOptions {
  std::string loss = "ce";
  int64_t hidden = 64, layers = 2, heads = 2, max_len = 50;
  double dropout = 0.5, attn_dropout = 0.5;
};

// The sasrec plugin with the quickstart settings (configs/base/sasrec.yaml), in the host's model: one item
// table per entry of `domain_items`, and an optional quantizer.
inline std::shared_ptr<engine::HostSequenceModel> make_sasrec(const Registry& registry,
                                                             const std::vector<int64_t>& domain_items,
                                                             const ModelOptions& o,
                                                             const std::shared_ptr<spdlog::logger>& log,
                                                             std::shared_ptr<Quantizer> quantizer = nullptr) {
  const Component& c = registry.get(Kind::Backbone, "sasrec");
  Params p = Params::defaults(c.params, "backbone (sasrec)");
  p.set("hidden", o.hidden);
  p.set("layers", o.layers);
  p.set("heads", o.heads);
  p.set("max_len", o.max_len);
  p.set("dropout", o.dropout);
  p.set("attn_dropout", o.attn_dropout);
  PluginContext ctx;
  ctx.log = log;
  auto backbone = c.backbone(p, ctx);
  return std::make_shared<engine::HostSequenceModel>(domain_items, backbone, std::move(quantizer),
                                                     engine::parse_loss(o.loss));
}

inline std::shared_ptr<engine::HostSequenceModel> make_sasrec(const Registry& registry, int64_t num_items,
                                                             const ModelOptions& o,
                                                             const std::shared_ptr<spdlog::logger>& log) {
  return make_sasrec(registry, std::vector<int64_t>{num_items}, o, log);
}

// A batch of random item ids (the cost of a step does not depend on which items it holds).
inline Batch random_batch(int64_t items, int64_t rows, int64_t len) {
  Batch x;
  x.inputs = torch::randint(1, items + 1, {rows, len}, torch::kLong);
  x.targets = torch::randint(1, items + 1, {rows, len}, torch::kLong);
  return x;
}

}  // namespace xrec::bench
