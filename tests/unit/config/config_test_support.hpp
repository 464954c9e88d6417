#pragma once
// Shared by the tests of core/src/config/ (tests/unit/config/*_test.cpp): a fake registry and schema (only
// their param specs matter to the config layer), fixture positions, and small configs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xrec/config.hpp"
#include "xrec/registry.hpp"

namespace xrec::config_test {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

inline std::string fixture(const std::string& name) { return std::string(XREC_TEST_FIXTURES) + "/configs/" + name; }

// "line:col" (1-based) of the first occurrence of `needle` in a fixture file, so tests check the positions
// the loader reports against the file itself.
inline std::string pos_of(const std::string& name, const std::string& needle) {
  std::ifstream in(fixture(name));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (auto col = line.find(needle); col != std::string::npos)
      return std::to_string(n) + ":" + std::to_string(col + 1);
  ADD_FAILURE() << "'" << needle << "' not found in " << name;
  return "?";
}

// "<fixture path>:line:col" of `needle`.
inline std::string at(const std::string& name, const std::string& needle) {
  return fixture(name) + ":" + pos_of(name, needle);
}

// The message of the ConfigError `f` throws (fails the test if it throws nothing or something else).
inline std::string config_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing was thrown";
  return "";
}

inline size_t line_count(const std::string& s) { return s.empty() ? 0 : std::count(s.begin(), s.end(), '\n') + 1; }

template <class T>
inline Factory<T> no_factory() {
  return [](const Params&, const PluginContext&) { return std::shared_ptr<T>(); };
}

// A registry with a few fake components: only their param specs matter to the config layer.
inline const Registry& test_registry() {
  static const Registry registry = [] {
    Registry r;
    Component sasrec;
    sasrec.kind = Kind::Backbone;
    sasrec.name = "sasrec";
    sasrec.params = {param::integer("hidden", 64, "Hidden size").range(1, 4096),
                     param::integer("heads", 2, "Attention heads").at_least(1),
                     param::real("dropout", 0.1, "Dropout").range(0, 1),
                     param::string("act", "gelu", "Activation").one_of({"gelu", "relu"})};
    sasrec.set_factory<Backbone>(no_factory<Backbone>());
    r.add(sasrec);
    Component gru;
    gru.kind = Kind::Backbone;
    gru.name = "gru4rec";
    gru.params = {param::integer("hidden", 64, "Hidden size"), param::integer("layers", 1, "Layers")};
    gru.set_factory<Backbone>(no_factory<Backbone>());
    r.add(gru);
    Component amazon;
    amazon.kind = Kind::Dataset;
    amazon.name = "amazon_s3rec";
    amazon.params = {param::required("name", ParamType::String, "Category"),
                     param::integer("min_count", 5, "Minimum interactions").at_least(1)};
    amazon.set_factory<Dataset>(no_factory<Dataset>());
    r.add(amazon);
    Component ml;
    ml.kind = Kind::Dataset;
    ml.name = "movielens";
    ml.params = {param::string("path", "ml-1m", "Folder"), param::real_list("weights", {1.0}, "Weights")};
    ml.set_factory<Dataset>(no_factory<Dataset>());
    r.add(ml);
    Component rq;
    rq.kind = Kind::Quantizer;
    rq.name = "rq";
    rq.params = {param::integer("codebooks", 4, "Codebooks").range(1, 16),
                 param::required("dim", ParamType::Int, "Code dimension")};
    rq.set_factory<Quantizer>(no_factory<Quantizer>());
    r.add(rq);
    return r;
  }();
  return registry;
}

inline const ConfigSchema& test_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.sections[""] = {param::string("name", "run", "Run name"), param::integer("seed", 0, "Seed").at_least(0)};
    s.sections["train"] = {
        param::real("lr", 0.001, "Learning rate").at_least(0), param::integer("epochs", 10, "Epochs").range(1, 1000),
        param::string("loss", "ce", "Loss").one_of({"bce", "ce"}), param::boolean("amp", false, "Mixed precision")};
    s.sections["eval"] = {param::int_list("ks", {10, 20}, "Cut-offs").at_least(1),
                          param::string_list("metrics", {"ndcg", "hr"}, "Metrics").one_of({"ndcg", "hr", "mrr"})};
    s.sections["split"] = {param::required("scheme", ParamType::String, "Split").one_of({"loo", "ratio"}),
                           param::real("valid", 0.1, "Validation share").range(0, 1)};
    s.slots = {{"backbone", Kind::Backbone, true, false, "Sequence encoder", {}, {}, {}},
               {"data.target", Kind::Dataset, true, false, "Target domain", {}, {}, {}},
               {"data.sources", Kind::Dataset, false, true, "Source domains", {}, {}, {}},
               {"quantizer", Kind::Quantizer, false, false, "Item code quantizer", {}, {}, {}}};
    return s;
  }();
  return schema;
}

inline ResolvedConfig resolve(const Config& c) { return c.resolve(test_registry(), test_schema()); }

// A small valid config for inline tests.
inline const char* kMinimal = R"(name: mini
backbone:
  type: sasrec
data:
  target:
    type: amazon_s3rec
    name: Books
split:
  scheme: loo
)";

// ---------------------------------------------------------------------------------------------------------
// Slot extensions: host keys common to every section of a slot, and plain names expanded to a section.

// test_schema() with two host keys for every data section and the names `books` and `broken` (whose
// expansion has a bad value) for them.
inline ConfigSchema named_schema(ParamSpecs common = {param::integer("k_core", 0, "K-core").at_least(0),
                                                      param::boolean("cache", true, "Cache")}) {
  ConfigSchema s = test_schema();
  for (auto& slot : s.slots) {
    if (slot.kind != Kind::Dataset) continue;
    slot.common = common;
    slot.expand_name = [](const std::string& name) -> std::optional<YAML::Node> {
      if (name == "books") return YAML::Load("{type: amazon_s3rec, name: Books, min_count: 3}");
      if (name == "broken") return YAML::Load("{type: amazon_s3rec, name: Broken, min_count: zero}");
      if (name == "explodes") throw InputError("catalog file is unreadable");
      if (name == "scalar") return YAML::Load("amazon_s3rec");
      return std::nullopt;
    };
    slot.known_names = [] { return std::vector<std::string>{"books", "broken"}; };
  }
  return s;
}

inline const char* kNamedBase = R"(backbone:
  type: sasrec
split:
  scheme: loo
)";

// Writes files into a fresh temporary folder; returns the folder.
inline fs::path write_files(const std::string& test, const std::vector<std::pair<std::string, std::string>>& files) {
  const fs::path dir = fs::temp_directory_path() / ("xrec_config_" + test + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (auto& [name, text] : files) std::ofstream(dir / name) << text;
  return dir;
}

}  // namespace xrec::config_test
