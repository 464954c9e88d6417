#pragma once
// From a data section of the config to a split Task: catalog files -> cache or dataset plugin -> features
// -> preprocess -> validate -> split -> training users -> negatives. Used by `xrec run` and `xrec data`.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/context.hpp"
#include "xrec/api/task.hpp"
#include "xrec/config.hpp"
#include "xrec/registry.hpp"

namespace xrec::engine {

// The host keys every data section accepts besides its component's own params (see docs/config.md).
const ParamSpecs& data_section_specs();

// The config's data sections in domain order: data.target, then data.sources[0], [1], ...
std::vector<const ComponentConfig*> data_sections(const ResolvedConfig& config);

struct LoadedDomain {
  DomainData data;
  double load_seconds = 0;
  bool from_cache = false;
};

// Loads one data section (catalog files ensured, cache used unless `cache: false`), then builds features
// and preprocesses as its keys say. Features come first so that a vector file's rows follow the dataset's
// own item order; preprocessing keeps every row with its item.
LoadedDomain load_domain(const Registry& registry, const ComponentConfig& section, const PluginContext& ctx);

// Splits a loaded domain as the config's `split` and `eval` sections say. `role` is target or source;
// `index` distinguishes domains in seeds.
Task make_task(const DomainData& data, const std::string& role, size_t index, const ResolvedConfig& config,
               uint64_t seed, const ComponentConfig& section);

// Per-domain statistics: users, items, interactions, density, sequence length quantiles (median = the
// lower middle length, p90 = nearest rank).
struct DomainStats {
  int64_t users = 0, items = 0, interactions = 0;
  double density = 0;
  double mean_length = 0;
  int64_t min_length = 0, median_length = 0, p90_length = 0, max_length = 0;
};
DomainStats domain_stats(const DomainData& data);

}  // namespace xrec::engine
