// Command-line overrides: key.path[index].key=value, the value parsed as YAML.
#include <yaml-cpp/depthguard.h>

#include <set>

#include "internal.hpp"
#include "xrec/api/text.hpp"

namespace xrec::config_detail {

namespace {

struct Segment {
  std::string key;  // empty for an index
  size_t index = 0;
};

class OverrideApplier {
 public:
  OverrideApplier(const std::string& arg, int position) : arg_(arg), at_{kCommandLine, 1, position} {}

  void apply(Layer& layer) {
    const size_t eq = arg_.find('=');
    if (eq == std::string::npos) fail("expected KEY.PATH=VALUE, e.g. train.lr=0.001");
    const std::vector<Segment> path = parse_path(arg_.substr(0, eq));
    if (path.front().key == "defaults") fail("'defaults' (included files) can only be set in a config file");
    YAML::Node value;
    try {
      value = YAML::Load(arg_.substr(eq + 1));
    } catch (const YAML::DeepRecursion&) {
      fail("the value has nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    } catch (const YAML::Exception& e) {
      fail("the value is not valid YAML: " + e.msg);
    }
    if (const std::string bad = bad_key(value); !bad.empty()) fail("the value has " + bad);
    layer.node = set(layer.node, path, 0, "", value, layer.locs);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError(at_.str() + ": malformed override " + quote_token(arg_) + ": " + why);
  }

  // Keys inside a map value must be addressable names, as in files (see record()).
  static std::string bad_key(const YAML::Node& n, int depth = 0) {
    if (depth > kMaxDepth)
      return "nesting deeper than " + std::to_string(kMaxDepth) +
             " levels (a recursive YAML alias such as `&a [*a]` nests without end)";
    if (n.IsSequence())
      for (const auto& e : n)
        if (std::string bad = bad_key(e, depth + 1); !bad.empty()) return bad;
    if (!n.IsMap()) return "";
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return std::string("a key that is ") + kind_name(it->first);
      const std::string& key = it->first.Scalar();
      if (key.empty() || key.find_first_of(".[]=") != std::string::npos)
        return "the key " + quote_token(key) + "; keys are non-empty names without '.', '[', ']' or '='";
      if (!seen.insert(key).second) return "the key " + quote_token(key) + " twice";
      if (std::string bad = bad_key(it->second, depth + 1); !bad.empty()) return bad;
    }
    return "";
  }

  std::vector<Segment> parse_path(const std::string& text) const {
    std::vector<Segment> out;
    size_t i = 0;
    while (i < text.size()) {
      if (text[i] == '[') {
        const size_t close = text.find(']', i);
        const std::string digits = close == std::string::npos ? "" : text.substr(i + 1, close - i - 1);
        if (out.empty() || digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
            digits.size() > 9)
          fail("expected a list index like [0] after a key, at character " + std::to_string(i + 1));
        out.push_back({"", static_cast<size_t>(std::stoul(digits))});
        i = close + 1;
        if (i < text.size() && text[i] != '.' && text[i] != '[')
          fail("expected '.' or '[' after ']' at character " + std::to_string(i + 1));
        if (i < text.size() && text[i] == '.' && ++i == text.size()) fail("the key path ends with '.'");
        continue;
      }
      const size_t end = text.find_first_of(".[]", i);
      const std::string key = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
      if (key.empty() || key.find_first_of(" \t") != std::string::npos)
        fail("empty or blank key at character " + std::to_string(i + 1) + "; expected KEY.PATH=VALUE");
      out.push_back({key, 0});
      if (end == std::string::npos) break;
      if (text[end] == ']') fail("unmatched ']' at character " + std::to_string(end + 1));
      i = end + (text[end] == '.' ? 1 : 0);
      if (text[end] == '.' && i == text.size()) fail("the key path ends with '.'");
    }
    if (out.empty()) fail("empty key; expected KEY.PATH=VALUE");
    return out;
  }

  // Returns `node` with `value` set at path[i..], updating the locations below `path`.
  YAML::Node set(const YAML::Node& node, const std::vector<Segment>& segs, size_t i, const std::string& path,
                 const YAML::Node& value, Locations& locs) const {
    if (i == segs.size()) {
      Locations value_locs;
      record_all(value, path, at_, value_locs);
      Locations merged_locs;
      YAML::Node out = merge_nodes(node, locs, value, value_locs, path, merged_locs);
      erase_under(locs, path);
      for (auto& [k, v] : merged_locs) locs[k] = v;
      return out;
    }
    const Segment& seg = segs[i];
    if (seg.key.empty()) {
      if (!is_unset(node) && !node.IsSequence())
        fail(quote_token(path) + " is " + kind_name(node) + ", not a list, so it has no entry [" + std::to_string(seg.index) +
             "]");
      const size_t size = node.IsSequence() ? node.size() : 0;
      if (seg.index > size)
        fail("index [" + std::to_string(seg.index) + "] is out of range: " + quote_token(path) + " has " + std::to_string(size) +
             " entries (use [" + std::to_string(size) + "] to append one)");
      if (!node.IsSequence()) locs[path] = at_;
      YAML::Node out(YAML::NodeType::Sequence);
      for (size_t j = 0; j < size; ++j)
        out.push_back(j == seg.index ? set(node[j], segs, i + 1, index_path(path, j), value, locs) : node[j]);
      if (seg.index == size) {
        locs[index_path(path, size)] = at_;
        out.push_back(set(YAML::Node(YAML::NodeType::Null), segs, i + 1, index_path(path, size), value, locs));
      }
      return out;
    }
    if (!is_unset(node) && !node.IsMap()) {
      // A named dataset is the one scalar users expect to extend: point them at the map form.
      const bool named_data = node.IsScalar() && path.rfind("data.", 0) == 0;
      fail(quote_token(path) + " is " + kind_name(node) + ", not a map, so it has no key " + quote_token(seg.key) +
           (named_data ? "; to change a named dataset, give it as a map: " + path + "={catalog: " + node.Scalar() +
                             ", " + seg.key + ": ...}"
                       : std::string()));
    }
    if (!node.IsMap() && !path.empty()) locs[path] = at_;  // a map created by this override
    const std::string p = child_path(path, seg.key);
    if ((seg.key == "type" || seg.key == "catalog") && i + 1 == segs.size() && value.IsScalar()) {
      YAML::Node switched(YAML::NodeType::Map);
      switched[seg.key] = value;
      if (switches_type(node, switched)) {
        // A new component type: the old type's params do not carry over (see switches_type).
        erase_under(locs, path);
        locs[path] = at_;
        locs[p] = at_;
        return switched;
      }
    }
    YAML::Node out(YAML::NodeType::Map);
    bool found = false;
    if (node.IsMap()) {
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.Scalar();
        if (key == seg.key) {
          out[key] = set(it->second, segs, i + 1, p, value, locs);
          found = true;
        } else {
          out[key] = it->second;
        }
      }
    }
    if (!found) {
      locs[p] = at_;
      out[seg.key] = set(YAML::Node(YAML::NodeType::Null), segs, i + 1, p, value, locs);
    }
    return out;
  }

  std::string arg_;
  SourceLocation at_;
};

}  // namespace

void apply_override(Layer& layer, const std::string& arg, int position) { OverrideApplier(arg, position).apply(layer); }

}  // namespace xrec::config_detail
