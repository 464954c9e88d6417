// The public config API (xrec/config.hpp); the work is done in the files of this folder, see internal.hpp.
#include "xrec/config.hpp"

#include <filesystem>

#include "internal.hpp"

namespace xrec {

namespace fs = std::filesystem;
using namespace config_detail;

std::string SourceLocation::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Params& ResolvedConfig::section(const std::string& name) const {
  auto it = sections.find(name);
  if (it == sections.end()) {
    std::string known;
    for (auto& [n, p] : sections) known += (known.empty() ? "" : ", ") + (n.empty() ? "<top level>" : n);
    throw Error("the resolved config has no section '" + name + "' (sections: " + known + ")");
  }
  return it->second;
}

Params ResolvedConfig::stage(const std::string& stage) const {
  if (auto it = stages.find(stage); it != stages.end()) return it->second;
  return section(stage_section);
}

bool ResolvedConfig::stage_sets(const std::string& stage, const std::string& key) const {
  auto it = stage_keys.find(stage);
  return it != stage_keys.end() && it->second.count(key) > 0;
}

std::vector<std::string> ResolvedConfig::stage_names() const {
  std::vector<std::string> names;
  for (auto& [name, params] : stages) names.push_back(name);
  return names;
}

const ComponentConfig* ResolvedConfig::component(const std::string& path) const {
  for (auto& c : components)
    if (c.path == path) return &c;
  return nullptr;
}

std::vector<const ComponentConfig*> ResolvedConfig::components_at(const std::string& slot_path) const {
  std::vector<const ComponentConfig*> out;
  for (auto& c : components)
    if (c.path == slot_path || c.path.rfind(slot_path + "[", 0) == 0) out.push_back(&c);
  return out;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  Layer layer = load_config_file(path);
  for (size_t i = 0; i < overrides.size(); ++i) apply_override(layer, overrides[i], static_cast<int>(i) + 1);
  Config c;
  c.root_ = layer.node;
  c.locations_ = std::move(layer.locs);
  return c;
}

Config Config::parse(const std::string& yaml_text, const std::string& name, const std::vector<std::string>& overrides) {
  Layer layer = load_config_text(yaml_text, name);
  for (size_t i = 0; i < overrides.size(); ++i) apply_override(layer, overrides[i], static_cast<int>(i) + 1);
  Config c;
  c.root_ = layer.node;
  c.locations_ = std::move(layer.locs);
  return c;
}

std::vector<std::string> Config::plugin_paths() const {
  const YAML::Node node = find_key(root_, "plugin_paths");
  if (is_unset(node)) return {};
  std::vector<std::pair<YAML::Node, std::string>> entries;  // (value, key path)
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) entries.emplace_back(node[i], index_path("plugin_paths", i));
  } else {
    entries.emplace_back(node, "plugin_paths");
  }
  std::vector<std::string> out;
  for (auto& [value, key] : entries) {
    const SourceLocation at = location(key).value_or(location("plugin_paths").value_or(SourceLocation{"<config>"}));
    if (!value.IsScalar() || value.Scalar().empty())
      throw ConfigError(at.str() + ": " + key + ": expected a folder or plugin library path (a string or a list " +
                        "of strings), found " + describe_found(value));
    // Relative to the file that named it, so an included base config can point next to itself.
    fs::path base;
    if (!at.file.empty() && at.file.front() != '<') base = fs::path(at.file).parent_path();
    out.push_back(fs::absolute(base / value.Scalar()).lexically_normal().generic_string());
  }
  return out;
}

ResolvedConfig Config::resolve(const Registry& registry, const ConfigSchema& schema) const {
  return resolve_config(*this, registry, schema);
}

std::optional<SourceLocation> Config::location(const std::string& key_path) const {
  auto it = locations_.find(key_path);
  if (it == locations_.end()) return std::nullopt;
  return it->second;
}

}  // namespace xrec
