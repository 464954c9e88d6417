// Layers: a parsed file (or a merge of several) with the position of every key path in it; merging them.
#include <map>

#include "internal.hpp"

namespace xrec::config_detail {

// Records where every key and list entry of `node` was written; rejects keys that cannot be addressed
// by a key path and duplicate keys (yaml-cpp keeps both, silently using the first).
void record(const YAML::Node& node, const std::string& path, const std::string& file, Locations& locs, int depth) {
  const SourceLocation here = locs.count(path) ? locs.at(path) : SourceLocation{file, 0, 0};
  check_depth(depth, path, here);
  if (node.IsMap()) {
    std::map<std::string, SourceLocation> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const SourceLocation at = mark_at(file, it->first.Mark(), here);
      if (!it->first.IsScalar())
        throw ConfigError(at.str() + ": " + (path.empty() ? "" : path + ": ") + "a key must be a name, found " +
                          kind_name(it->first));
      const std::string& key = it->first.Scalar();
      const std::string p = child_path(path, key);
      if (key.empty() || key.find_first_of(".[]=") != std::string::npos)
        throw ConfigError(at.str() + ": " + p +
                          ": a key must be a non-empty name without '.', '[', ']' or '=' "
                          "(they separate key paths); write nested maps instead");
      if (auto dup = seen.find(key); dup != seen.end())
        throw ConfigError(at.str() + ": " + p + ": duplicate key (first set at " + dup->second.str() + ")");
      seen.emplace(key, at);
      locs[p] = at;
      record(it->second, p, file, locs, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string p = index_path(path, i);
      locs[p] = mark_at(file, node[i].Mark(), here);
      record(node[i], p, file, locs, depth + 1);
    }
  }
}

// Every key path below `path` in `node` gets the same location (values given on the command line).
void record_all(const YAML::Node& node, const std::string& path, const SourceLocation& at, Locations& locs) {
  locs[path] = at;
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      record_all(it->second, child_path(path, it->first.Scalar()), at, locs);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) record_all(node[i], index_path(path, i), at, locs);
  }
}

// lo <- hi at `path`: maps merge key by key (hi wins), anything else in hi replaces lo wholesale.
// Writes the locations of the result's subtree into `out_locs`.
YAML::Node merge_nodes(const YAML::Node& lo, const Locations& lo_locs, const YAML::Node& hi, const Locations& hi_locs,
                       const std::string& path, Locations& out_locs) {
  // A map that switches a component's type replaces the lower one: the old type's params would be unknown
  // keys of the new type (docs/config.md, "Switching a component's type").
  if (!(lo.IsMap() && hi.IsMap()) || switches_type(lo, hi)) {
    copy_under(hi_locs, path, out_locs);
    return YAML::Clone(hi);
  }
  // The map itself counts as set by the higher layer: it is the last one that wrote into it.
  if (auto it = hi_locs.find(path); it != hi_locs.end())
    out_locs[path] = it->second;
  else if (auto jt = lo_locs.find(path); jt != lo_locs.end())
    out_locs[path] = jt->second;
  YAML::Node out(YAML::NodeType::Map);
  for (auto it = lo.begin(); it != lo.end(); ++it) {
    const std::string key = it->first.Scalar();
    const std::string p = child_path(path, key);
    const YAML::Node h = find_key(hi, key);
    if (h.IsDefined()) {
      out[key] = merge_nodes(it->second, lo_locs, h, hi_locs, p, out_locs);
    } else {
      out[key] = YAML::Clone(it->second);
      copy_under(lo_locs, p, out_locs);
    }
  }
  for (auto it = hi.begin(); it != hi.end(); ++it) {
    const std::string key = it->first.Scalar();
    if (find_key(lo, key).IsDefined()) continue;
    out[key] = YAML::Clone(it->second);
    copy_under(hi_locs, child_path(path, key), out_locs);
  }
  return out;
}

bool switches_type(const YAML::Node& lo, const YAML::Node& hi) {
  if (!lo.IsMap() || !hi.IsMap()) return false;
  // A component is named by `type:`, a data section also by `catalog:` (a named dataset).
  bool shared = false, lo_named = false, hi_named = false;
  for (const char* key : {"type", "catalog"}) {
    const YAML::Node l = find_key(lo, key), h = find_key(hi, key);
    lo_named |= l.IsScalar();
    hi_named |= h.IsScalar();
    if (l.IsScalar() && h.IsScalar()) {
      if (l.Scalar() != h.Scalar()) return true;
      shared = true;
    }
  }
  // `{catalog: beauty, ...}` below `{type: atomic, ...}` (or the reverse): another dataset altogether.
  return !shared && lo_named && hi_named;
}

Layer merge(const Layer& lo, const Layer& hi) {
  Layer out;
  out.node = merge_nodes(lo.node, lo.locs, hi.node, hi.locs, "", out.locs);
  return out;
}

}  // namespace xrec::config_detail
