#include "xrec/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "xrec/sha256.hpp"

namespace xrec {

namespace fs = std::filesystem;

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

// Placeholder until `stages:` is validated by the config layer: every stage trains with `train:` as it is.
Params ResolvedConfig::stage(const std::string&) const { return section("train"); }
std::vector<std::string> ResolvedConfig::stage_names() const { return {}; }

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

namespace {

using Locations = std::map<std::string, SourceLocation>;
const char* const kCommandLine = "<command line>";

// ---------------------------------------------------------------------------------------------------------
// Key paths: "train.lr", "data.sources[1].type"; "" is the root.

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
  for (auto it = from.lower_bound(path); it != from.end() && it->first.compare(0, path.size(), path) == 0;
       ++it)
    if (is_under(it->first, path)) to[it->first] = it->second;
}

SourceLocation mark_at(const std::string& file, const YAML::Mark& m, const SourceLocation& fallback) {
  if (m.line < 0) return fallback;  // yaml-cpp has no position for implicit nulls
  return {file, m.line + 1, m.column + 1};
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

const char* kind_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "nothing";
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

// ---------------------------------------------------------------------------------------------------------
// Layers: one parsed file (or the merge of several) with the position of every key path in it.

struct Layer {
  YAML::Node node{YAML::NodeType::Map};
  Locations locs;
};

// Records where every key and list entry of `node` was written; rejects keys that cannot be addressed
// by a key path and duplicate keys (yaml-cpp keeps both, silently using the first).
void record(const YAML::Node& node, const std::string& path, const std::string& file, Locations& locs) {
  const SourceLocation here = locs.count(path) ? locs.at(path) : SourceLocation{file, 0, 0};
  if (node.IsMap()) {
    std::map<std::string, SourceLocation> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const SourceLocation at = mark_at(file, it->first.Mark(), here);
      if (!it->first.IsScalar())
        throw ConfigError(at.str() + ": " + (path.empty() ? "" : path + ": ") +
                          "a key must be a name, found " + kind_name(it->first));
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
      record(it->second, p, file, locs);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string p = index_path(path, i);
      locs[p] = mark_at(file, node[i].Mark(), here);
      record(node[i], p, file, locs);
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
YAML::Node merge_nodes(const YAML::Node& lo, const Locations& lo_locs, const YAML::Node& hi,
                       const Locations& hi_locs, const std::string& path, Locations& out_locs) {
  if (!(lo.IsMap() && hi.IsMap())) {
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

Layer merge(const Layer& lo, const Layer& hi) {
  Layer out;
  out.node = merge_nodes(lo.node, lo.locs, hi.node, hi.locs, "", out.locs);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Files and their `defaults:` includes.

class FileLoader {
 public:
  // `origin` is where the file was named (an include entry), empty for the top file.
  Layer load_file(const std::string& file, const std::string& origin) {
    const std::string key = identity(file);
    if (std::find(open_.begin(), open_.end(), key) != open_.end()) {
      std::vector<std::string> cycle = chain_;
      cycle.push_back(file);
      throw ConfigError(origin + ": include cycle: " + join(cycle, " -> "));
    }
    std::ifstream in(file, std::ios::binary);
    const int open_errno = errno;
    std::error_code ec;
    if (!in || fs::is_directory(file, ec)) {
      const std::string why = fs::is_directory(file, ec) ? "it is a directory" : std::strerror(open_errno);
      if (origin.empty()) throw ConfigError("cannot read config file '" + file + "': " + why);
      throw ConfigError(origin + ": cannot read included config file '" + file + "': " + why +
                        chain_note(file));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return load_text(text.str(), file, key);
  }

  Layer load_text(const std::string& text, const std::string& file, const std::string& key) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      const SourceLocation at = mark_at(file, e.mark, {file, 0, 0});
      throw ConfigError(at.str() + ": YAML syntax error: " + e.msg + chain_note(file));
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);  // an empty file is an empty config
    if (!root.IsMap())
      throw ConfigError(mark_at(file, root.Mark(), {file, 0, 0}).str() +
                        ": a config file must be a map of keys, found " + kind_name(root) + chain_note(file));

    Layer self;
    self.locs[""] = {file, 0, 0};
    record(root, "", file, self.locs);

    Layer merged;
    const YAML::Node defaults = find_key(root, "defaults");
    if (defaults.IsDefined()) {
      chain_.push_back(file);
      open_.push_back(key);
      for (auto& [include, at] : include_list(defaults, self.locs)) {
        const fs::path p =
            fs::path(include).is_absolute() ? fs::path(include) : fs::path(file).parent_path() / include;
        merged = merge(merged, load_file(p.lexically_normal().generic_string(), at.str()));
      }
      chain_.pop_back();
      open_.pop_back();
      // The includes are consumed: `defaults` never reaches the merged tree.
      YAML::Node rest(YAML::NodeType::Map);
      for (auto it = root.begin(); it != root.end(); ++it)
        if (it->first.Scalar() != "defaults") rest[it->first.Scalar()] = it->second;
      root = rest;
      erase_under(self.locs, "defaults");
    }
    self.node = root;
    return merge(merged, self);
  }

 private:
  // A file's identity for cycle detection: the same file reached by different relative paths is one.
  static std::string identity(const std::string& file) {
    std::error_code ec;
    fs::path p = fs::weakly_canonical(file, ec);
    if (ec) p = fs::absolute(file, ec).lexically_normal();
    return p.generic_string();
  }

  std::string chain_note(const std::string& file) const {
    if (chain_.empty()) return "";
    std::vector<std::string> chain = chain_;
    chain.push_back(file);
    return " (include chain: " + join(chain, " -> ") + ")";
  }

  static std::vector<std::pair<std::string, SourceLocation>> include_list(const YAML::Node& defaults,
                                                                          const Locations& locs) {
    const SourceLocation at = locs.at("defaults");
    std::vector<std::pair<std::string, SourceLocation>> out;
    if (defaults.IsScalar()) {
      out.emplace_back(defaults.Scalar(), at);
    } else if (defaults.IsSequence()) {
      for (size_t i = 0; i < defaults.size(); ++i) {
        const SourceLocation item =
            locs.count(index_path("defaults", i)) ? locs.at(index_path("defaults", i)) : at;
        if (!defaults[i].IsScalar() || defaults[i].Scalar().empty())
          throw ConfigError(item.str() + ": " + index_path("defaults", i) +
                            ": expected the path of a YAML file to include, found " + kind_name(defaults[i]));
        out.emplace_back(defaults[i].Scalar(), item);
      }
    } else if (!defaults.IsNull()) {
      throw ConfigError(at.str() + ": defaults: expected a list of YAML files to include, found " +
                        kind_name(defaults));
    }
    return out;
  }

  std::vector<std::string> chain_;  // files being loaded, as named, outermost first
  std::vector<std::string> open_;   // their identities
};

// ---------------------------------------------------------------------------------------------------------
// Command-line overrides: key.path[index].key=value, the value parsed as YAML.

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
    } catch (const YAML::Exception& e) {
      fail("the value is not valid YAML: " + e.msg);
    }
    if (const std::string bad = bad_key(value); !bad.empty()) fail("the value has " + bad);
    layer.node = set(layer.node, path, 0, "", value, layer.locs);
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError(at_.str() + ": malformed override '" + arg_ + "': " + why);
  }

  // Keys inside a map value must be addressable names, as in files (see record()).
  static std::string bad_key(const YAML::Node& n) {
    if (n.IsSequence())
      for (const auto& e : n)
        if (std::string bad = bad_key(e); !bad.empty()) return bad;
    if (!n.IsMap()) return "";
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) return std::string("a key that is ") + kind_name(it->first);
      const std::string& key = it->first.Scalar();
      if (key.empty() || key.find_first_of(".[]=") != std::string::npos)
        return "the key '" + key + "'; keys are non-empty names without '.', '[', ']' or '='";
      if (!seen.insert(key).second) return "the key '" + key + "' twice";
      if (std::string bad = bad_key(it->second); !bad.empty()) return bad;
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
        fail("'" + path + "' is " + kind_name(node) + ", not a list, so it has no entry [" +
             std::to_string(seg.index) + "]");
      const size_t size = node.IsSequence() ? node.size() : 0;
      if (seg.index > size)
        fail("index [" + std::to_string(seg.index) + "] is out of range: '" + path + "' has " +
             std::to_string(size) + " entries (use [" + std::to_string(size) + "] to append one)");
      if (!node.IsSequence()) locs[path] = at_;
      YAML::Node out(YAML::NodeType::Sequence);
      for (size_t j = 0; j < size; ++j)
        out.push_back(j == seg.index ? set(node[j], segs, i + 1, index_path(path, j), value, locs) : node[j]);
      if (seg.index == size) {
        locs[index_path(path, size)] = at_;
        out.push_back(
            set(YAML::Node(YAML::NodeType::Null), segs, i + 1, index_path(path, size), value, locs));
      }
      return out;
    }
    if (!is_unset(node) && !node.IsMap()) {
      // A named dataset is the one scalar users expect to extend: point them at the map form.
      const bool named_data = node.IsScalar() && path.rfind("data.", 0) == 0;
      fail("'" + path + "' is " + kind_name(node) + ", not a map, so it has no key '" + seg.key + "'" +
           (named_data ? "; to change a named dataset, give it as a map: " + path + "={catalog: " + node.Scalar() +
                             ", " + seg.key + ": ...}"
                       : std::string()));
    }
    if (!node.IsMap() && !path.empty()) locs[path] = at_;  // a map created by this override
    const std::string p = child_path(path, seg.key);
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

// ---------------------------------------------------------------------------------------------------------
// YAML scalars to typed values. Plain scalars are read by YAML 1.2 core rules; quoted ones are strings.

bool is_quoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

bool parse_int(const std::string& s, int64_t& out) {
  const size_t start = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (s.size() == start || s.find_first_not_of("0123456789", start) != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return false;
  out = v;
  return true;
}

bool parse_float(const std::string& s, double& out) {
  static const std::map<std::string, double> special = {
      {".inf", HUGE_VAL},   {".Inf", HUGE_VAL},     {".INF", HUGE_VAL},     {"+.inf", HUGE_VAL},
      {"+.Inf", HUGE_VAL},  {"+.INF", HUGE_VAL},    {"-.inf", -HUGE_VAL},   {"-.Inf", -HUGE_VAL},
      {"-.INF", -HUGE_VAL}, {".nan", std::nan("")}, {".NaN", std::nan("")}, {".NAN", std::nan("")}};
  if (auto it = special.find(s); it != special.end()) {
    out = it->second;
    return true;
  }
  // strtod alone would also take "inf", "nan" and hex floats, which YAML reads as strings.
  if (s.empty() || s.find_first_not_of("0123456789+-.eE") != std::string::npos ||
      s.find_first_of("0123456789") == std::string::npos)
    return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE) return false;
  out = v;
  return true;
}

bool parse_bool(const std::string& s, bool& out) {
  if (s == "true" || s == "True" || s == "TRUE") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE") return out = false, true;
  return false;
}

// How a rejected YAML value is shown: numbers and bools as written, strings quoted, lists and maps in
// flow style (shortened).
std::string describe_found(const YAML::Node& n) {
  if (is_unset(n)) return "null";
  if (n.IsScalar()) {
    int64_t i;
    double d;
    bool b;
    const std::string& s = n.Scalar();
    if (!is_quoted(n) && (parse_int(s, i) || parse_float(s, d) || parse_bool(s, b))) return s;
    return "\"" + s + "\"";
  }
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << n;
  std::string text = e.c_str();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return n.IsMap() ? "a map " + text : text;
}

// Shows a typed value that failed its range or choices: strings always quoted, so `found "mse"` reads the
// same whether the value came from YAML or from a default.
std::string describe_value(const Value& v) {
  if (auto s = std::get_if<std::string>(&v.storage())) return "\"" + *s + "\"";
  if (auto l = std::get_if<std::vector<std::string>>(&v.storage())) {
    std::vector<std::string> q;
    for (auto& s : *l) q.push_back("\"" + s + "\"");
    return "[" + join(q) + "]";
  }
  return v.to_string();
}

// One YAML scalar as one element of `type` (the element type for lists).
bool scalar_to(const YAML::Node& n, ParamType type, Value& out) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  const bool plain = !is_quoted(n);
  switch (type) {
    case ParamType::Bool: {
      bool b;
      if (!plain || !parse_bool(s, b)) return false;
      out = Value(b);
      return true;
    }
    case ParamType::Int:
    case ParamType::IntList: {
      int64_t i;
      if (!plain || !parse_int(s, i)) return false;
      out = Value(i);
      return true;
    }
    case ParamType::Float:
    case ParamType::FloatList: {
      // Ints are accepted and stored as floats, so `lr: 1` and `lr: 1.0` resolve (and hash) the same.
      int64_t i;
      double d;
      if (!plain) return false;
      if (parse_int(s, i))
        d = static_cast<double>(i);
      else if (!parse_float(s, d))
        return false;
      out = Value(d);
      return true;
    }
    case ParamType::String:
    case ParamType::StringList:
      // A plain `name: 2018` is meant as text; any scalar is accepted as a string.
      out = Value(s);
      return true;
  }
  return false;
}

// A YAML sequence whose every element converts to the list's element type.
template <class T, class Get>
bool list_to(const YAML::Node& n, ParamType type, Value& out, Get get) {
  if (!n.IsSequence()) return false;
  std::vector<T> v;
  for (const auto& e : n) {
    Value x;
    if (!scalar_to(e, type, x)) return false;
    v.push_back((x.*get)());
  }
  out = Value(std::move(v));
  return true;
}

bool to_value(const YAML::Node& n, ParamType type, Value& out) {
  switch (type) {
    case ParamType::Bool:
    case ParamType::Int:
    case ParamType::Float:
    case ParamType::String: return scalar_to(n, type, out);
    case ParamType::IntList: return list_to<int64_t>(n, type, out, &Value::as_int);
    case ParamType::FloatList: return list_to<double>(n, type, out, &Value::as_float);
    case ParamType::StringList: return list_to<std::string>(n, type, out, &Value::as_string);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// The schema as a tree of key names: sections and slots are leaves, "data" of "data.target" is an inner map.

struct SchemaNode {
  std::string section;                         // name in schema.sections when this is a section
  const ParamSpecs* specs = nullptr;           // set for sections
  const ConfigSchema::Slot* slot = nullptr;    // set for component slots
  std::map<std::string, SchemaNode> children;  // inner maps
  bool leaf() const { return specs || slot; }
};

std::vector<std::string> split_dots(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) out.push_back(part);
  return out;
}

SchemaNode build_schema_tree(const ConfigSchema& schema) {
  SchemaNode root;
  auto insert = [&](const std::string& path) -> SchemaNode& {
    SchemaNode* n = &root;
    const std::vector<std::string> parts = split_dots(path);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].empty()) throw Error("config schema: empty key in path '" + path + "'");
      if (n->leaf()) throw Error("config schema: '" + path + "' lies inside another section or slot");
      n = &n->children[parts[i]];
    }
    if (n->leaf() || !n->children.empty()) throw Error("config schema: '" + path + "' is defined twice");
    return *n;
  };
  for (auto& [name, specs] : schema.sections) {
    if (name.empty()) continue;
    SchemaNode& n = insert(name);
    n.section = name;
    n.specs = &specs;
  }
  for (auto& slot : schema.slots) insert(slot.path).slot = &slot;
  if (auto top = schema.sections.find(""); top != schema.sections.end())
    for (auto& spec : top->second)
      if (root.children.count(spec.name) || spec.name == "plugin_paths" || spec.name == "defaults")
        throw Error("config schema: top-level key '" + spec.name +
                    "' clashes with a section, slot or reserved key");
  return root;
}

// ---------------------------------------------------------------------------------------------------------
// The canonical tree of a resolved config, emitted as YAML and flattened for the run store.

struct Canon {
  enum class Kind { Leaf, Map, List } kind = Kind::Map;
  Value leaf;
  std::map<std::string, Canon> map;
  std::vector<Canon> list;
};

Canon& canon_at(Canon& root, const std::string& dotted) {
  Canon* n = &root;
  for (auto& part : split_dots(dotted)) n = &n->map[part];
  return *n;
}

Canon canon_params(const Params& params, const std::string& type) {
  Canon c;
  if (!type.empty()) {
    c.map["type"].kind = Canon::Kind::Leaf;
    c.map["type"].leaf = Value(type);
  }
  for (auto& [k, v] : params.values()) {
    Canon& leaf = c.map[k];
    leaf.kind = Canon::Kind::Leaf;
    leaf.leaf = v;
  }
  return c;
}

// Map keys sorted, except that a component's `type` comes first: it says how to read the rest.
std::vector<const std::pair<const std::string, Canon>*> ordered(const Canon& c) {
  std::vector<const std::pair<const std::string, Canon>*> out;
  if (auto it = c.map.find("type"); it != c.map.end() && it->second.kind == Canon::Kind::Leaf)
    out.push_back(&*it);
  for (auto& kv : c.map)
    if (!(kv.first == "type" && kv.second.kind == Canon::Kind::Leaf)) out.push_back(&kv);
  return out;
}

void emit_scalar(YAML::Emitter& e, const Value& v) {
  // Value::to_string() is YAML flow text that reads back as the same type; strings that would read back
  // as something else come out quoted.
  if (auto s = std::get_if<std::string>(&v.storage())) {
    if (v.to_string().front() == '"')
      e << YAML::DoubleQuoted << *s;
    else
      e << *s;
  } else {
    e << v.to_string();
  }
}

void emit_value(YAML::Emitter& e, const Value& v) {
  const auto& st = v.storage();
  if (auto l = std::get_if<std::vector<int64_t>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else if (auto l = std::get_if<std::vector<double>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else if (auto l = std::get_if<std::vector<std::string>>(&st)) {
    e << YAML::Flow << YAML::BeginSeq;
    for (auto& x : *l) emit_scalar(e, Value(x));
    e << YAML::EndSeq;
  } else {
    emit_scalar(e, v);
  }
}

void emit(YAML::Emitter& e, const Canon& c) {
  switch (c.kind) {
    case Canon::Kind::Leaf: emit_value(e, c.leaf); break;
    case Canon::Kind::List:
      e << YAML::BeginSeq;
      for (auto& item : c.list) emit(e, item);
      e << YAML::EndSeq;
      break;
    case Canon::Kind::Map:
      e << YAML::BeginMap;
      for (auto* kv : ordered(c)) {
        e << YAML::Key << kv->first << YAML::Value;
        emit(e, kv->second);
      }
      e << YAML::EndMap;
      break;
  }
}

void flatten(const Canon& c, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  switch (c.kind) {
    case Canon::Kind::Leaf: out.emplace_back(path, c.leaf.to_string()); break;
    case Canon::Kind::List:
      for (size_t i = 0; i < c.list.size(); ++i) flatten(c.list[i], index_path(path, i), out);
      break;
    case Canon::Kind::Map:
      for (auto* kv : ordered(c)) flatten(kv->second, child_path(path, kv->first), out);
      break;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Validation: walks the merged tree against the schema tree, collecting every problem.

class Resolver {
 public:
  Resolver(const Config& config, const Registry& registry, const ConfigSchema& schema)
      : config_(config), registry_(registry), schema_(schema), tree_(build_schema_tree(schema)) {
    if (auto it = schema.sections.find(""); it != schema.sections.end()) top_specs_ = &it->second;
  }

  ResolvedConfig run() {
    out_.sections[""] = Params("the top level", {});
    walk_map(config_.root(), tree_, "");
    if (!problems_.empty()) {
      // File order reads best: by file, then position; problems without a line (a missing key) last.
      std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
        auto key = [](const SourceLocation& l) {
          return std::make_tuple(l.file, l.line <= 0, l.line, l.column);
        };
        return key(a.at) < key(b.at);
      });
      std::vector<std::string> lines;
      for (auto& p : problems_) lines.push_back(p.text);
      throw ConfigError(join(lines, "\n"));
    }
    canonicalize();
    return std::move(out_);
  }

 private:
  struct Problem {
    SourceLocation at;
    std::string text;  // "file:line:col: key.path: what"
  };

  void problem(const std::string& path, const std::string& what) {
    const SourceLocation at = locate(path);
    problems_.push_back({at, at.str() + ": " + (path.empty() ? "" : path + ": ") + what});
  }

  // The nearest recorded position: the key itself, else the map that should have held it.
  SourceLocation locate(std::string path) const {
    while (true) {
      if (auto at = config_.location(path)) return *at;
      if (path.empty()) return {"<config>", 0, 0};
      const size_t cut = path.find_last_of(".[");
      path = cut == std::string::npos ? "" : path.substr(0, cut);
    }
  }

  void unknown_key(const std::string& path, const std::string& key, std::vector<std::string> valid) {
    std::sort(valid.begin(), valid.end());
    problem(path, "unknown key" + did_you_mean(key, valid) +
                      (valid.empty() ? " (nothing may be set here)" : " (valid: " + join(valid) + ")"));
  }

  void walk_map(const YAML::Node& map, const SchemaNode& node, const std::string& path) {
    const bool root = path.empty();
    std::set<std::string> seen;
    if (map.IsMap()) {
      for (auto it = map.begin(); it != map.end(); ++it) {
        const std::string key = it->first.Scalar();
        const std::string p = child_path(path, key);
        seen.insert(key);
        if (root && key == "plugin_paths") {
          plugin_paths();
          continue;
        }
        if (root && top_specs_) {
          if (const ParamSpec* spec = find_spec(*top_specs_, key)) {
            if (!is_unset(it->second)) convert(it->second, *spec, p, out_.sections[""]);
            continue;
          }
        }
        auto child = node.children.find(key);
        if (child == node.children.end()) {
          std::vector<std::string> valid;
          for (auto& [k, c] : node.children) valid.push_back(k);
          if (root) {
            valid.push_back("plugin_paths");
            if (top_specs_)
              for (auto& s : *top_specs_) valid.push_back(s.name);
          }
          unknown_key(p, key, valid);
          continue;
        }
        visit(it->second, child->second, p);
      }
    }
    for (auto& [key, child] : node.children)
      if (!seen.count(key)) visit(YAML::Node(YAML::NodeType::Undefined), child, child_path(path, key));
    if (root && top_specs_) fill(*top_specs_, "", out_.sections[""]);
  }

  void visit(const YAML::Node& n, const SchemaNode& node, const std::string& path) {
    if (node.specs) return section(n, node, path);
    if (node.slot) return slot(n, *node.slot, path);
    if (is_unset(n) || n.IsMap()) return walk_map(n, node, path);
    std::vector<std::string> keys;
    for (auto& [k, c] : node.children) keys.push_back(k);
    problem(path, "expected a map with keys " + join(keys) + ", found " + describe_found(n));
  }

  void section(const YAML::Node& n, const SchemaNode& node, const std::string& path) {
    Params& params = out_.sections[node.section];
    params = Params("section '" + node.section + "'", {});
    if (is_unset(n)) {
      std::vector<std::string> required;
      for (auto& s : *node.specs)
        if (s.required()) required.push_back(s.name);
      if (!required.empty()) problem(path, "missing required section (it must set: " + join(required) + ")");
      fill(*node.specs, path, params, /*report_missing=*/false);
      return;
    }
    if (!n.IsMap()) {
      std::vector<std::string> keys;
      for (auto& s : *node.specs) keys.push_back(s.name);
      problem(path, "expected a map of settings (keys: " + join(keys) + "), found " + describe_found(n));
      return;
    }
    params_from(n, *node.specs, path, params, {});
  }

  void slot(const YAML::Node& n, const ConfigSchema::Slot& s, const std::string& path) {
    if (s.skip) return;
    const std::string kind = to_string(s.kind);
    if (is_unset(n)) {
      if (s.required)
        problem(path, "missing required " + kind + (s.list ? " list: a list of maps" : ": a map") +
                          " with 'type: NAME'" + known_types(s.kind));
      return;
    }
    if (!s.list) return component(n, s, path);
    if (!n.IsSequence()) {
      problem(path,
              "expected a list of " + kind + "s, each a map with 'type: NAME', found " + describe_found(n));
      return;
    }
    if (n.size() == 0 && s.required) problem(path, "needs at least one " + kind);
    for (size_t i = 0; i < n.size(); ++i) component(n[i], s, index_path(path, i));
  }

  void component(const YAML::Node& given, const ConfigSchema::Slot& s, const std::string& path) {
    const std::string kind = to_string(s.kind);
    YAML::Node n = given;
    if (n.IsScalar() && s.expand_name) {
      // A plain name (`data.target: beauty`) stands for the map the slot expands it to. Problems inside the
      // expansion are reported at the name, the only place the user wrote.
      if (!expand(n.Scalar(), s, path, n)) return;
    } else if (n.IsMap() && s.expand_name && is_unset(find_key(n, "type")) && !is_unset(find_key(n, "catalog"))) {
      // `{catalog: beauty, k_core: 5}`: the named dataset's map with the given keys set over it.
      const YAML::Node name = find_key(n, "catalog");
      if (!name.IsScalar()) {
        problem(child_path(path, "catalog"), "expected a dataset name, found " + describe_found(name));
        return;
      }
      YAML::Node base;
      if (!expand(name.Scalar(), s, child_path(path, "catalog"), base)) return;
      YAML::Node merged(YAML::NodeType::Map);
      for (auto it = base.begin(); it != base.end(); ++it) merged[it->first.Scalar()] = it->second;
      for (auto it = n.begin(); it != n.end(); ++it) merged[it->first.Scalar()] = it->second;
      n = merged;
    }
    if (!n.IsMap()) {
      problem(path, "expected a map with 'type: NAME' and the " + kind + "'s parameters" +
                        (s.expand_name ? std::string(", or a known name") : std::string()) + ", found " +
                        describe_found(n));
      return;
    }
    const YAML::Node type = find_key(n, "type");
    if (is_unset(type)) {
      problem(path, "missing required key 'type'" + known_types(s.kind));
      return;
    }
    const std::string type_path = child_path(path, "type");
    if (!type.IsScalar()) {
      problem(type_path, "expected the name of a " + kind + ", found " + describe_found(type));
      return;
    }
    const std::string name = type.Scalar();
    const Component* c = registry_.find(s.kind, name);
    if (!c) {
      const std::vector<std::string> names = registry_.names(s.kind);
      std::string msg = "unknown " + kind + " '" + name + "'" + did_you_mean(name, names);
      if (names.empty())
        msg += "; no " + kind + " is registered (is its plugin in a plugin folder or in plugin_paths?)";
      else
        msg += " (known: " + join(names) + ")";
      problem(type_path, msg);
      return;
    }
    // The slot's host keys are validated with the component's own: one map, one list of valid names.
    ParamSpecs specs = c->params;
    for (auto& common : s.common) {
      if (find_spec(c->params, common.name)) {
        problem(type_path, kind + " '" + name + "' declares a parameter '" + common.name +
                               "', which is also a host key of every " + s.path +
                               " section; the plugin must rename it");
        return;
      }
      specs.push_back(common);
    }
    Params params(path + " (" + name + ")", {});
    params_from(n, specs, path, params, {"type"});
    out_.components.push_back({path, s.kind, name, std::move(params)});
  }

  // Replaces a plain name by the slot's expansion; false (with the problem reported) when there is none.
  bool expand(const std::string& name, const ConfigSchema::Slot& s, const std::string& path, YAML::Node& out) {
    std::vector<std::string> known;
    std::optional<YAML::Node> expanded;
    try {
      expanded = s.expand_name(name);
      if (!expanded && s.known_names) known = s.known_names();
    } catch (const std::exception& e) {
      problem(path, "cannot expand the name '" + name + "': " + e.what());
      return false;
    }
    if (!expanded) {
      std::string msg = "unknown " + std::string(to_string(s.kind)) + " name '" + name + "'" +
                        did_you_mean(name, known);
      msg += known.empty() ? " (no names are known)" : " (known: " + join(known) + ")";
      problem(path, msg + "; or give a map with 'type: NAME' and the parameters");
      return false;
    }
    if (!expanded->IsMap()) {
      problem(path, "the name '" + name + "' expands to " + kind_name(*expanded) + ", expected a map with 'type:'");
      return false;
    }
    out = *expanded;
    return true;
  }

  std::string known_types(Kind kind) const {
    const std::vector<std::string> names = registry_.names(kind);
    if (names.empty()) return std::string("; no ") + to_string(kind) + " is registered";
    return " (one of: " + join(names) + ")";
  }

  static const ParamSpec* find_spec(const ParamSpecs& specs, const std::string& key) {
    for (auto& s : specs)
      if (s.name == key) return &s;
    return nullptr;
  }

  // Validates a map of parameters against `specs` (`skip` are keys handled by the caller, like `type`),
  // then fills defaults and reports missing required keys.
  void params_from(const YAML::Node& map, const ParamSpecs& specs, const std::string& path, Params& params,
                   const std::vector<std::string>& skip) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
      const std::string p = child_path(path, key);
      const ParamSpec* spec = find_spec(specs, key);
      if (!spec) {
        std::vector<std::string> valid = skip;
        for (auto& s : specs) valid.push_back(s.name);
        unknown_key(p, key, valid);
        continue;
      }
      if (!is_unset(it->second)) convert(it->second, *spec, p, params);  // null = not set: the default holds
    }
    fill(specs, path, params);
  }

  void convert(const YAML::Node& n, const ParamSpec& spec, const std::string& path, Params& params) {
    Value v;
    if (!to_value(n, spec.type, v)) {
      problem(path, "expected " + spec.describe_type() + ", found " + describe_found(n));
      rejected_.insert(path);
      return;
    }
    const std::string expected = spec.check(v);
    if (!expected.empty()) {
      problem(path, "expected " + expected + ", found " + describe_value(v));
      rejected_.insert(path);
      return;
    }
    params.set(spec.name, std::move(v));
  }

  void fill(const ParamSpecs& specs, const std::string& path, Params& params, bool report_missing = true) {
    for (auto& s : specs) {
      if (params.has(s.name)) continue;
      if (!s.required())
        params.set(s.name, s.default_value);
      else if (report_missing && !rejected_.count(child_path(path, s.name)))
        problem(path, "missing required key '" + s.name + "' (" + s.describe_type() + ")");
    }
  }

  void plugin_paths() {
    try {
      resolved_plugin_paths_ = config_.plugin_paths();
    } catch (const ConfigError& e) {
      problems_.push_back({locate("plugin_paths"), e.what()});
    }
  }

  void canonicalize() {
    Canon root;
    for (auto& [k, v] : out_.sections[""].values()) {
      Canon& leaf = root.map[k];
      leaf.kind = Canon::Kind::Leaf;
      leaf.leaf = v;
    }
    for (auto& [name, params] : out_.sections)
      if (!name.empty()) canon_at(root, name) = canon_params(params, "");
    for (auto& s : schema_.slots) {
      // An absent optional slot and an empty optional list mean the same: nothing to write.
      const std::vector<const ComponentConfig*> found = out_.components_at(s.path);
      if (found.empty()) continue;
      if (!s.list) {
        canon_at(root, s.path) = canon_params(found.front()->params, found.front()->type);
        continue;
      }
      Canon list;
      list.kind = Canon::Kind::List;
      for (auto* c : found) list.list.push_back(canon_params(c->params, c->type));
      canon_at(root, s.path) = std::move(list);
    }
    if (!resolved_plugin_paths_.empty()) {
      Canon& leaf = root.map["plugin_paths"];
      leaf.kind = Canon::Kind::Leaf;
      leaf.leaf = Value(resolved_plugin_paths_);
    }
    YAML::Emitter e;
    emit(e, root);
    out_.yaml = std::string(e.c_str()) + "\n";
    out_.hash = sha256_hex(out_.yaml);
    flatten(root, "", out_.flat);
  }

  const Config& config_;
  const Registry& registry_;
  const ConfigSchema& schema_;
  SchemaNode tree_;
  const ParamSpecs* top_specs_ = nullptr;
  std::vector<Problem> problems_;
  std::set<std::string> rejected_;  // keys given with a bad value: reported once, not again as missing
  std::vector<std::string> resolved_plugin_paths_;
  ResolvedConfig out_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  FileLoader loader;
  Layer layer = loader.load_file(path, "");
  for (size_t i = 0; i < overrides.size(); ++i)
    OverrideApplier(overrides[i], static_cast<int>(i) + 1).apply(layer);
  Config c;
  c.root_ = layer.node;
  c.locations_ = std::move(layer.locs);
  return c;
}

Config Config::parse(const std::string& yaml_text, const std::string& name,
                     const std::vector<std::string>& overrides) {
  FileLoader loader;
  Layer layer = loader.load_text(yaml_text, name, name);
  for (size_t i = 0; i < overrides.size(); ++i)
    OverrideApplier(overrides[i], static_cast<int>(i) + 1).apply(layer);
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
    const SourceLocation at =
        location(key).value_or(location("plugin_paths").value_or(SourceLocation{"<config>"}));
    if (!value.IsScalar() || value.Scalar().empty())
      throw ConfigError(at.str() + ": " + key +
                        ": expected a folder or plugin library path (a string or a list " +
                        "of strings), found " + describe_found(value));
    // Relative to the file that named it, so an included base config can point next to itself.
    fs::path base;
    if (!at.file.empty() && at.file.front() != '<') base = fs::path(at.file).parent_path();
    out.push_back(fs::absolute(base / value.Scalar()).lexically_normal().generic_string());
  }
  return out;
}

ResolvedConfig Config::resolve(const Registry& registry, const ConfigSchema& schema) const {
  return Resolver(*this, registry, schema).run();
}

std::optional<SourceLocation> Config::location(const std::string& key_path) const {
  auto it = locations_.find(key_path);
  if (it == locations_.end()) return std::nullopt;
  return it->second;
}

}  // namespace xrec
