#pragma once
// Finds and loads plugin libraries with Boost.DLL. The descriptor is read and checked before any other
// plugin code runs; a broken library is reported and skipped while the others keep working.
// Libraries are never unloaded while the process runs (LibTorch registrations and plugin objects
// outlive any safe unload point).
#include <string>
#include <vector>

#include "xrec/registry.hpp"

namespace xrec {

struct LoadedPlugin {
  std::string name, version, description;
  std::string path, sha256;
  std::string xrec_version, torch_version, compiler, cxx_abi, device;
  std::vector<std::pair<Kind, std::string>> components;
};

struct PluginProblem {
  std::string path;
  std::string message;  // e.g. "built for another host: torch_version expected 1.13.0, found 2.1.0; ..."
};

class PluginLoader {
 public:
  explicit PluginLoader(Registry& registry) : registry_(registry) {}

  // Loads every *.so directly inside each folder (sorted by name). Missing folders are skipped.
  void load_dirs(const std::vector<std::string>& dirs);
  // Loads one library; returns false and records a problem when it is not a usable plugin.
  bool load_file(const std::string& path);

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  // The plugin that registered a component, or nullptr.
  const LoadedPlugin* provider(Kind kind, const std::string& name) const;

 private:
  Registry& registry_;
  std::vector<LoadedPlugin> plugins_;
  std::vector<PluginProblem> problems_;
};

// Default search folders, in order: $XREC_PLUGIN_PATH (':'-separated), then the build's plugin folder
// and the installed plugin folder (compiled in). Config `plugin_paths:` are added by the caller.
std::vector<std::string> default_plugin_dirs();

}  // namespace xrec
