#pragma once
// Loads a dataset plugin from the build's plugin folder and runs it on fixture files, as the host would:
// Params = the component's defaults overridden by `values`, validated against its ParamSpecs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"
#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"

namespace xrec::test {

// One registry for the whole test binary: plugins are never unloaded, so load them once.
inline Registry& plugin_registry() {
  static Registry registry;
  static bool loaded = [] {
    PluginLoader loader(registry);
    loader.load_dirs({XREC_TEST_PLUGIN_DIR});
    for (auto& p : loader.problems()) ADD_FAILURE() << "plugin problem: " << p.path << ": " << p.message;
    return true;
  }();
  (void)loaded;
  return registry;
}

// Runs dataset component `type` with `values` over the defaults; data roots = {root}.
inline DomainData load_dataset(const std::string& type, const std::map<std::string, Value>& values,
                               const std::string& root = "") {
  const Component& c = plugin_registry().get(Kind::Dataset, type);
  Params p = Params::defaults(c.params, "dataset (" + type + ")");
  for (auto& [k, v] : values) {
    const ParamSpec* spec = nullptr;
    for (auto& s : c.params)
      if (s.name == k) spec = &s;
    if (!spec) throw Error("test asked for unknown param '" + k + "' of " + type);
    if (std::string why = spec->check(v); !why.empty()) throw Error("test value for '" + k + "': expected " + why);
    p.set(k, v);
  }
  PluginContext ctx;
  if (!root.empty()) ctx.data_roots = {root};
  DomainData d = c.dataset(p, ctx)->load();
  d.validate();
  return d;
}

// Fixture files for plugin tests: a TempDir whose root() is passed as the data root.
using FixtureDir = TempDir;

}  // namespace xrec::test
