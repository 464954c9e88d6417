#include "xrec/data/data_pipeline.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/catalog.hpp"
#include "xrec/data/data_cache.hpp"
#include "xrec/data/features.hpp"
#include "xrec/data/preprocess.hpp"
#include "xrec/data/split.hpp"
#include "xrec/sha256.hpp"
#include "xrec/suggest.hpp"

namespace xrec::engine {

namespace {

using Clock = std::chrono::steady_clock;

// Bump when what load_domain does to a domain changes (preprocessing, features, their order): entries
// cached by an older pipeline then miss instead of returning data this version would not produce.
constexpr int kPipelineVersion = 1;

// Keys that decide what happens after loading (the split) or whether to cache, not what is loaded.
bool affects_loaded_data(const std::string& key) {
  return key != "cache" && key != "train_fraction" && key != "train_users";
}

std::string cache_key(const Component& component, const ComponentConfig& section, const PluginContext& ctx) {
  std::string key = "xrec data pipeline " + std::to_string(kPipelineVersion) + "\ncomponent " + section.type + "\n";
  for (auto& [k, v] : section.params.values())
    if (affects_loaded_data(k)) key += "param " + k + " = " + v.to_string() + "\n";
  // Relative paths resolve against the data roots, so the same params can name other files elsewhere.
  for (auto& root : ctx.data_roots) key += "root " + root + "\n";
  // A rebuilt plugin may read the same files differently.
  if (!component.path.empty()) key += "plugin " + component.plugin + " " + sha256_file(component.path) + "\n";
  return key;
}

}  // namespace

const ParamSpecs& data_section_specs() {
  using namespace xrec::param;
  static const ParamSpecs specs = {
      integer("k_core", 0,
              "Drop users and items with fewer than K interactions, repeatedly until none is left (0 = off)")
          .at_least(0),
      integer("max_length", 0, "Keep only each user's last N interactions (0 = all)").at_least(0),
      real("train_fraction", 1.0,
           "Share (0, 1] of the domain's training users kept for training, chosen with the seed; the others' "
           "validation and test cases stay")
          .range(0, 1)
          .above(0),
      integer("train_users", 0, "Keep exactly N training users instead of a fraction (0 = use train_fraction)")
          .at_least(0),
      boolean("cache", true,
              "Keep the loaded and preprocessed domain in the binary data cache ($XREC_CACHE/data), keyed by the "
              "component, these params and the source files' sha256"),
      string("catalog", "",
             "Named dataset whose files are verified (and downloaded where absent) before loading; set by "
             "`data.target: NAME`"),
      integer("text_features", 0,
              "> 0: an item feature of this dimension from the item text fields (hashed TF-IDF, random "
              "projection); 0 = off")
          .at_least(0),
      boolean("attribute_features", false, "An item (and user) feature: multi-hot of every categorical field"),
      string("numeric_features", "none",
             "Encoding of every numeric side field as a feature: none, bucket or sinusoidal")
          .one_of({"none", "bucket", "sinusoidal"}),
      integer("numeric_dim", 16, "Buckets, or sinusoid dimensions, per numeric field").at_least(1),
      string("vector_file", "",
             "Precomputed item vectors, one row per item in the dataset's item order (.npy, or text rows); "
             "relative paths are looked up in the data roots"),
  };
  return specs;
}

std::vector<const ComponentConfig*> data_sections(const ResolvedConfig& config) {
  std::vector<const ComponentConfig*> out = config.components_at("data.target");
  for (auto* s : config.components_at("data.sources")) out.push_back(s);
  return out;
}

LoadedDomain load_domain(const Registry& registry, const ComponentConfig& section, const PluginContext& base) {
  const auto started = Clock::now();
  const Params& p = section.params;
  PluginContext ctx = base;

  if (const std::string name = p.str("catalog"); !name.empty()) {
    const CatalogEntry* entry = find_catalog_entry(name);
    if (!entry) {
      std::vector<std::string> known;
      for (auto& e : dataset_catalog()) known.push_back(e.name);
      std::string list;
      for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InputError(section.path + ".catalog: unknown dataset name '" + name + "'" + did_you_mean(name, known) +
                       " (known: " + list + ")");
    }
    const std::string root = ensure_catalog_files(*entry, ctx.data_roots, DataCache::default_dir() + "/downloads");
    // First, so that the verified copy is the one read even if another root holds a different file.
    ctx.data_roots.erase(std::remove(ctx.data_roots.begin(), ctx.data_roots.end(), root), ctx.data_roots.end());
    ctx.data_roots.insert(ctx.data_roots.begin(), root);
  }

  const Component& component = registry.get(Kind::Dataset, section.type);
  std::optional<DataCache> cache;
  std::string key;
  if (p.flag("cache")) {
    cache.emplace(DataCache::default_dir() + "/data", ctx.log);
    key = cache_key(component, section, ctx);
    std::string why;
    if (auto hit = cache->get(key, &why)) {
      LoadedDomain out{std::move(*hit), 0, true};
      out.load_seconds = std::chrono::duration<double>(Clock::now() - started).count();
      return out;
    }
    if (ctx.log) ctx.log->debug("data cache miss for {} ({}): {}", section.path, section.type, why);
  }

  DomainData d = component.dataset(p, ctx)->load();
  d.validate();
  // Features before preprocessing: a vector file's rows follow the dataset's own item order, and
  // preprocessing then keeps every feature row with its item.
  FeatureOptions f;
  f.text_dim = p.integer("text_features");
  f.attributes = p.flag("attribute_features");
  f.numeric = p.str("numeric_features");
  f.numeric_dim = p.integer("numeric_dim");
  f.seed = 0;  // features are a property of the data, the same for every run seed (and cache entry)
  if (!p.str("vector_file").empty()) {
    f.vector_file = find_data_file(p.str("vector_file"), ctx, "(" + section.path + ".vector_file)");
    d.source_files.push_back(f.vector_file);
  }
  build_features(d, f);
  PreprocessOptions o;
  o.k_core = p.integer("k_core");
  o.max_length = p.integer("max_length");
  preprocess(d, o);
  d.validate();

  // Generated domains (no source file) are not cached: nothing could tell a stale entry, and they are
  // cheap to make again.
  if (cache && !d.source_files.empty()) {
    try {
      cache->put(key, d);
    } catch (const Error& e) {
      if (ctx.log) ctx.log->warn("data cache: not stored ({}); the run goes on", e.what());
    }
  }
  LoadedDomain out{std::move(d), 0, false};
  out.load_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return out;
}

Task make_task(const DomainData& data, const std::string& role, size_t index, const ResolvedConfig& config,
               uint64_t seed, const ComponentConfig& section) {
  const Params& sp = config.section("split");
  SplitOptions so;
  so.method = sp.str("method");
  so.min_length = sp.integer("min_length");
  so.ratios = sp.real_list("ratios");
  so.valid_time = sp.integer("valid_time");
  so.test_time = sp.integer("test_time");
  Task task = split_domain(data, role, so);

  const Params& p = section.params;
  try {
    keep_training_users(task, p.real("train_fraction"), p.integer("train_users"), seed * 1000033 + index + 1);
  } catch (const InputError& e) {
    throw InputError(section.path + "." + e.what());
  }

  const Params& eval = config.section("eval");
  if (eval.str("protocol") == "sampled") {
    NegativeOptions n;
    n.sampler = eval.str("sampler");
    // `file` names the target's fixed negatives (S3-Rec's LastFM_sample.txt); a source domain without a
    // file of its own is evaluated with uniform negatives instead of failing the run.
    if (n.sampler == "file" && role != "target" && data.fixed_negatives.empty()) n.sampler = "uniform";
    n.count = eval.integer("negatives");
    n.seed = seed * 1000003 + index;
    attach_negatives(task, n);
  }
  return task;
}

DomainStats domain_stats(const DomainData& data) {
  DomainStats s;
  s.users = data.num_users();
  s.items = data.num_items;
  s.interactions = data.num_interactions();
  if (s.users > 0 && s.items > 0)
    s.density = static_cast<double>(s.interactions) / (static_cast<double>(s.users) * static_cast<double>(s.items));
  if (s.users == 0) return s;
  std::vector<int64_t> len;
  len.reserve(static_cast<size_t>(s.users));
  for (auto& q : data.sequences) len.push_back(static_cast<int64_t>(q.size()));
  std::sort(len.begin(), len.end());
  const size_t n = len.size();
  s.min_length = len.front();
  s.max_length = len.back();
  s.mean_length = static_cast<double>(s.interactions) / static_cast<double>(n);
  s.median_length = len[(n - 1) / 2];
  // Nearest rank: the smallest length with at least 90% of the users at or below it.
  s.p90_length = len[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
  return s;
}

}  // namespace xrec::engine
