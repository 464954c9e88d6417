#pragma once
// What the files of core/src/config/ share; not part of the public API (xrec/config.hpp).
//   key_paths.cpp   key paths ("data.sources[1].type") and YAML node helpers
//   layers.cpp      where every key was set (record) and merging layers (includes, overrides, sweep points)
//   includes.cpp    reading files and their `defaults:` includes
//   overrides.cpp   command-line `key.path=value` overrides
//   yaml_values.cpp YAML scalars to typed values, and how rejected values are shown
//   schema_tree.cpp the ConfigSchema as a tree of key names
//   canonical.cpp   the canonical YAML of a resolved config and its flat key paths
//   validate.cpp    validation against the schema and the plugins' ParamSpecs (Resolver)
//   config.cpp      the public Config / ResolvedConfig methods
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xrec/config.hpp"

namespace xrec::config_detail {

using Locations = std::map<std::string, SourceLocation>;
inline const char* const kCommandLine = "<command line>";

// Nesting deeper than this is refused: it also stops a recursive YAML alias (`x: &a [*a]`, a node that
// contains itself), which would otherwise recurse until the stack overflows.
inline constexpr int kMaxDepth = 64;
// Throws ConfigError "nesting deeper than 64 levels at KEY" when depth > kMaxDepth.
void check_depth(int depth, const std::string& path, const SourceLocation& at);

// ---- key_paths.cpp
std::string child_path(const std::string& path, const std::string& key);
std::string index_path(const std::string& path, size_t i);
bool is_under(const std::string& key, const std::string& path);
void erase_under(Locations& locs, const std::string& path);
void copy_under(const Locations& from, const std::string& path, Locations& to);
SourceLocation mark_at(const std::string& file, const YAML::Mark& m, const SourceLocation& fallback);
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
const char* kind_name(const YAML::Node& n);
YAML::Node find_key(const YAML::Node& map, const std::string& key);
bool is_unset(const YAML::Node& n);
std::vector<std::string> split_dots(const std::string& path);

// ---- layers.cpp
struct Layer {
  YAML::Node node{YAML::NodeType::Map};
  Locations locs;
};
void record(const YAML::Node& node, const std::string& path, const std::string& file, Locations& locs, int depth = 0);
void record_all(const YAML::Node& node, const std::string& path, const SourceLocation& at, Locations& locs);
YAML::Node merge_nodes(const YAML::Node& lo, const Locations& lo_locs, const YAML::Node& hi, const Locations& hi_locs,
                       const std::string& path, Locations& out_locs);
Layer merge(const Layer& lo, const Layer& hi);
// True when `hi` names another component than `lo` does: another `type:`, another `catalog:` (a named
// dataset), or one named by `type:` and the other by `catalog:` only. The higher layer then switches the
// component, so nothing the lower layers set for it carries over.
bool switches_type(const YAML::Node& lo, const YAML::Node& hi);

// ---- includes.cpp
Layer load_config_file(const std::string& path);
Layer load_config_text(const std::string& text, const std::string& name);

// ---- overrides.cpp (`position` is the override's 1-based index on the command line)
void apply_override(Layer& layer, const std::string& arg, int position);

// ---- yaml_values.cpp
bool is_quoted(const YAML::Node& n);
bool parse_int(const std::string& s, int64_t& out);
bool parse_float(const std::string& s, double& out);
bool parse_bool(const std::string& s, bool& out);
std::string describe_found(const YAML::Node& n);
std::string describe_value(const Value& v);
bool to_value(const YAML::Node& n, ParamType type, Value& out);

// ---- schema_tree.cpp
struct SchemaNode {
  std::string section;                         // name in schema.sections when this is a section
  const ParamSpecs* specs = nullptr;           // set for sections
  const ConfigSchema::Slot* slot = nullptr;    // set for component slots
  std::map<std::string, SchemaNode> children;  // inner maps
  bool leaf() const { return specs || slot; }
};
SchemaNode build_schema_tree(const ConfigSchema& schema);

// ---- canonical.cpp
struct Canon {
  enum class Kind { Leaf, Map, List } kind = Kind::Map;
  Value leaf;
  std::map<std::string, Canon> map;
  std::vector<Canon> list;
};
Canon& canon_at(Canon& root, const std::string& dotted);
Canon canon_params(const Params& params, const std::string& type);
void emit(YAML::Emitter& e, const Canon& c);
void flatten(const Canon& c, const std::string& path, std::vector<std::pair<std::string, std::string>>& out);

// ---- validate.cpp
ResolvedConfig resolve_config(const Config& config, const Registry& registry, const ConfigSchema& schema);

}  // namespace xrec::config_detail
