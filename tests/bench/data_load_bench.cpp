// xrec_bench_data: how long each named dataset of the shared data folder takes to load, cold (the dataset
// plugin parses the files; data cache off) and warm (the binary data cache), both through
// engine::load_domain exactly as `xrec run` loads a `data.target: NAME` section. Prints a Markdown table.
//
//   xrec_bench_data [--data DIR] [--repeat N] [--datasets a,b,...] [--text-features DIM]
//
// Cold times include verifying the catalog checksums and reading the files (from the OS page cache after
// the first repetition): they measure parsing, not the disk. Warm times include re-hashing the source
// files, which the cache does to detect a stale entry. Medians of N repetitions.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/catalog.hpp"
#include "xrec/data/data_cache.hpp"
#include "xrec/data/data_pipeline.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"
#include "xrec/sha256.hpp"
#include "bench_args.hpp"

namespace fs = std::filesystem;
using namespace xrec;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string data = XREC_BENCH_SHARED_DATA;
  int repeat = 5;
  std::set<std::string> only;
  int64_t text_features = 0;
};

const char* const kUsage =
    "usage: xrec_bench_data [--data DIR] [--repeat N] [--datasets a,b,...] [--text-features DIM]\n";

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "xrec_bench_data: " << problem << "\n" << kUsage;
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  bench::Args a("xrec_bench_data", kUsage, argc, argv);
  while (a.next()) {
    if (a.is("--data")) o.data = a.value();
    else if (a.is("--repeat")) o.repeat = static_cast<int>(a.integer(1));
    else if (a.is("--text-features")) o.text_features = a.integer(0);
    else if (a.is("--datasets")) {
      std::stringstream list(a.value());
      for (std::string name; std::getline(list, name, ',');) o.only.insert(name);
    } else a.unknown();
  }
  return o;
}

// A catalog param (a YAML scalar) as the Value its spec expects.
Value to_value(const ParamSpec& spec, const std::string& text) {
  const YAML::Node n = YAML::Load(text);
  switch (spec.type) {
    case ParamType::Bool: return n.as<bool>();
    case ParamType::Int: return n.as<int64_t>();
    case ParamType::Float: return n.as<double>();
    default: return text;
  }
}

// The section `data.target: NAME` expands to: the component's defaults, the host's data keys, the entry's
// params, catalog = NAME.
ComponentConfig section_for(const Component& c, const CatalogEntry& e, bool cache, int64_t text_features) {
  ComponentConfig s;
  s.path = "data.target";
  s.kind = Kind::Dataset;
  s.type = e.type;
  s.params = Params::defaults(c.params, "dataset (" + e.type + ")");
  for (auto& spec : engine::data_section_specs()) s.params.set(spec.name, spec.default_value);
  for (auto& [k, v] : e.params) {
    auto spec = std::find_if(c.params.begin(), c.params.end(), [&](const ParamSpec& p) { return p.name == k; });
    if (spec == c.params.end()) throw Error("catalog entry '" + e.name + "' sets '" + k + "', unknown to " + e.type);
    s.params.set(k, to_value(*spec, v));
  }
  s.params.set("catalog", e.name);
  s.params.set("cache", cache);
  if (text_features > 0) s.params.set("text_features", text_features);
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string ms(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds * 1e3);
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (!fs::is_directory(o.data)) usage("no data folder at '" + o.data + "' (pass --data DIR)");
  const std::string data = fs::canonical(o.data).string();

  // A private cache folder: never the user's, never a stale entry from an earlier run.
  char tmpl[] = "/tmp/xrec-bench-cache-XXXXXX";
  if (!::mkdtemp(tmpl)) usage("cannot create a temporary cache folder");
  const std::string cache_dir = tmpl;
  ::setenv("XREC_CACHE", cache_dir.c_str(), 1);

  auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  log->set_level(spdlog::level::warn);

  Registry registry;
  const auto t0 = Clock::now();
  PluginLoader loader(registry);
  loader.load_dirs(default_plugin_dirs());
  const double plugin_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& p : loader.problems()) log->warn("skipped plugin {}: {}", p.path, p.message);

  std::cout << "# xrec_bench_data: " << data << ", " << o.repeat << " repetitions (median), text_features "
            << o.text_features << "\n"
            << "# plugin folder load: " << ms(plugin_seconds) << " ms (" << loader.plugins().size()
            << " plugins, once per process)\n\n"
            << "| dataset | component | users | items | interactions | files MB | sha256 pass ms | cold ms "
               "| first cached run ms | warm ms | cold/warm | cache entry MB |\n"
            << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  std::vector<std::string> skipped;
  int failures = 0;
  for (auto& entry : dataset_catalog()) {
    if (!o.only.empty() && !o.only.count(entry.name)) continue;
    const Component* c = registry.find(Kind::Dataset, entry.type);
    if (!c) {
      skipped.push_back(entry.name + ": dataset plugin '" + entry.type + "' is not built");
      continue;
    }
    bool present = true;
    for (auto& f : entry.files) present = present && fs::is_regular_file(fs::path(data) / f.path);
    if (!present) {
      skipped.push_back(entry.name + ": its files are not all in " + data);
      continue;
    }
    try {
      PluginContext ctx;
      ctx.data_roots = {data};
      ctx.log = log;
      const ComponentConfig cold = section_for(*c, entry, false, o.text_features);
      const ComponentConfig warm = section_for(*c, entry, true, o.text_features);

      std::vector<double> cold_s, warm_s;
      engine::LoadedDomain reference;
      for (int r = 0; r < o.repeat; ++r) {
        auto loaded = engine::load_domain(registry, cold, ctx);
        cold_s.push_back(loaded.load_seconds);
        if (r == 0) reference = std::move(loaded);
      }
      fs::remove_all(fs::path(cache_dir) / "data");  // the first cached run: a miss that parses and stores
      const auto first = engine::load_domain(registry, warm, ctx);
      if (first.from_cache) throw Error("the first cached load was a hit in an empty cache");
      for (int r = 0; r < o.repeat; ++r) {
        auto loaded = engine::load_domain(registry, warm, ctx);
        if (!loaded.from_cache) throw Error("a warm load missed the cache");
        if (loaded.data.num_interactions() != reference.data.num_interactions() ||
            loaded.data.num_items != reference.data.num_items || loaded.data.sequences != reference.data.sequences)
          throw Error("the cached domain differs from the parsed one");
        warm_s.push_back(loaded.load_seconds);
      }
      // One SHA-256 pass over the entry's files: a warm load makes two (catalog check, cache staleness check).
      const auto h0 = Clock::now();
      uintmax_t file_bytes = 0;
      for (auto& f : entry.files) {
        sha256_file((fs::path(data) / f.path).string());
        file_bytes += fs::file_size(fs::path(data) / f.path);
      }
      const double hash_s = std::chrono::duration<double>(Clock::now() - h0).count();
      uintmax_t entry_bytes = 0;
      for (auto& f : fs::directory_iterator(fs::path(cache_dir) / "data")) entry_bytes += f.file_size();

      const engine::DomainStats st = engine::domain_stats(reference.data);
      const double cold_m = median(cold_s), warm_m = median(warm_s);
      std::cout << "| " << entry.name << " | " << entry.type << " | " << st.users << " | " << st.items << " | "
                << st.interactions << " | " << fixed(static_cast<double>(file_bytes) / 1e6, 1) << " | " << ms(hash_s)
                << " | " << ms(cold_m) << " | " << ms(first.load_seconds) << " | " << ms(warm_m)
                << " | " << fixed(cold_m / warm_m, 1) << "x | " << fixed(static_cast<double>(entry_bytes) / 1e6, 1)
                << " |" << std::endl;
    } catch (const InputError& e) {
      if (o.text_features > 0 && std::string(e.what()).find("no text fields") != std::string::npos) {
        skipped.push_back(entry.name + ": no text fields for --text-features");
        continue;
      }
      ++failures;
      std::cout << "| " << entry.name << " | " << entry.type << " | failed: " << e.what() << " |||||||||\n";
    } catch (const std::exception& e) {
      ++failures;
      std::cout << "| " << entry.name << " | " << entry.type << " | failed: " << e.what() << " |||||||||\n";
    }
  }
  for (auto& s : skipped) std::cout << "\nskipped " << s;
  if (!skipped.empty()) std::cout << "\n";
  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  return failures ? 1 : 0;
}
