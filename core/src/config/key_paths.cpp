// Key paths ("train.lr", "data.sources[1].type") and small YAML node helpers shared by the config code.
#include <sstream>

#include "internal.hpp"

namespace xrec::config_detail {

// ---------------------------------------------------------------------------------------------------------
// Key paths: "train.lr", "data.sources[1].type"; "" is the root.

void check_depth(int depth, const std::string& path, const SourceLocation& at) {
  if (depth <= kMaxDepth) return;
  // Name the first levels only: a recursive alias would make the key path itself enormous.
  std::string shown = path.size() > 120 ? path.substr(0, 117) + "..." : path;
  throw ConfigError(at.str() + ": nesting deeper than " + std::to_string(kMaxDepth) + " levels at " +
                    (shown.empty() ? "the top level" : shown) +
                    " (a recursive YAML alias such as `x: &a [*a]` nests without end)");
}

std::string child_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string index_path(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

// True when `key` is `path` itself or lies below it ("a.b" and "a[0]" lie below "a"; "ab" does not).
bool is_under(const std::string& key, const std::string& path) {
  if (path.empty()) return true;
  if (key.compare(0, path.size(), path) != 0) return false;
  return key.size() == path.size() || key[path.size()] == '.' || key[path.size()] == '[';
}

void erase_under(Locations& locs, const std::string& path) {
  for (auto it = locs.lower_bound(path); it != locs.end() && it->first.compare(0, path.size(), path) == 0;) {
    if (is_under(it->first, path))
      it = locs.erase(it);
    else
      ++it;
  }
}

void copy_under(const Locations& from, const std::string& path, Locations& to) {
  for (auto it = from.lower_bound(path); it != from.end() && it->first.compare(0, path.size(), path) == 0; ++it)
    if (is_under(it->first, path)) to[it->first] = it->second;
}

SourceLocation mark_at(const std::string& file, const YAML::Mark& m, const SourceLocation& fallback) {
  if (m.line < 0) return fallback;  // yaml-cpp has no position for implicit nulls
  return {file, m.line + 1, m.column + 1};
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

// The value of `key` in a map node, or an undefined node. Iterates rather than using operator[], which
// on a non-const node would insert the key.
YAML::Node find_key(const YAML::Node& map, const std::string& key) {
  if (map.IsMap())
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.Scalar() == key) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

bool is_unset(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

std::vector<std::string> split_dots(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) out.push_back(part);
  return out;
}

}  // namespace xrec::config_detail
