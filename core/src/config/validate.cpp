// Validation: walks the merged tree against the schema tree, collecting every problem.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <tuple>

#include "internal.hpp"
#include "xrec/api/text.hpp"
#include "xrec/sha256.hpp"

namespace xrec::config_detail {

namespace {

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
        auto key = [](const SourceLocation& l) { return std::make_tuple(l.file, l.line <= 0, l.line, l.column); };
        return key(a.at) < key(b.at);
      });
      std::vector<std::string> lines;
      for (auto& p : problems_) lines.push_back(p.text);
      throw ConfigError(join(lines, "\n"));
    }
    resolve_stages();
    canonicalize();
    return std::move(out_);
  }

 private:
  struct Problem {
    SourceLocation at;
    std::string text;  // "file:line:col: key.path: what"
  };

  static constexpr const char* kStages = "stages";

  // `stages: {NAME: {KEY: VALUE}}`: each key validated like the same key of the stage section (`train:`).
  void stages(const YAML::Node& n) {
    if (is_unset(n)) return;
    const std::string& section = schema_.stage_section;
    auto specs_it = schema_.sections.find(section);
    if (specs_it == schema_.sections.end())
      throw Error("config schema: stage_section '" + section + "' is not a section");
    const ParamSpecs& specs = specs_it->second;
    if (!n.IsMap()) {
      problem(kStages, "expected a map of stage names to maps of " + section +
                           " keys (e.g. stages: {finetune: "
                           "{lr: 0.0001}}), found " +
                           describe_found(n));
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string name = it->first.Scalar();
      const std::string path = child_path(kStages, name);
      const bool identifier = (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                              std::all_of(name.begin(), name.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                              });
      if (!identifier) {
        problem(path, "a stage name must be an identifier (letters, digits, '_'; not starting with a digit)");
        continue;
      }
      const YAML::Node keys = it->second;  // a copy: the iterator hands out a temporary pair
      if (is_unset(keys)) continue;  // null = nothing set for this stage
      if (!keys.IsMap()) {
        problem(path,
                "expected a map of " + section + " keys to override for this stage, found " + describe_found(keys));
        continue;
      }
      Params& given = stage_overrides_[name];
      given = Params("stage '" + name + "'", {});
      for (auto kt = keys.begin(); kt != keys.end(); ++kt) {
        const std::string key = kt->first.Scalar();
        const std::string p = child_path(path, key);
        const ParamSpec* spec = find_spec(specs, key);
        if (!spec) {
          if (is_unset(kt->second)) continue;  // an explicit null of an unknown key: nothing set
          std::vector<std::string> valid;
          for (auto& sp : specs) valid.push_back(sp.name);
          unknown_key(p, key, valid);
          continue;
        }
        if (!is_unset(kt->second)) convert(kt->second, *spec, p, given);
      }
    }
  }

  // Each configured stage: the stage section's resolved values with the stage's own keys over them.
  void resolve_stages() {
    out_.stage_section = schema_.stage_section;
    for (auto& [name, given] : stage_overrides_) {
      std::map<std::string, Value> values = out_.sections[schema_.stage_section].values();
      for (auto& [k, v] : given.values()) {
        values[k] = v;
        out_.stage_keys[name].insert(k);
      }
      out_.stages[name] = Params("stage '" + name + "'", std::move(values));
    }
  }

  void problem(const std::string& path, const std::string& what) {
    const SourceLocation at = locate(path);
    problems_.push_back({at, at.str() + ": " + (path.empty() ? "" : printable(path) + ": ") + what});
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
        if (root && key == kStages && !schema_.stage_section.empty()) {
          stages(it->second);
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
            if (!schema_.stage_section.empty()) valid.push_back(kStages);
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
      problem(path, "expected a list of " + kind + "s, each a map with 'type: NAME', found " + describe_found(n));
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
      std::string msg = "unknown " + kind + " " + quote_token(name) + did_you_mean(name, names);
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
      problem(path, "cannot expand the name " + quote_token(name) + ": " + e.what());
      return false;
    }
    if (!expanded) {
      std::string msg =
          "unknown " + std::string(to_string(s.kind)) + " name " + quote_token(name) + did_you_mean(name, known);
      msg += known.empty() ? " (no names are known)" : " (known: " + join(known) + ")";
      problem(path, msg + "; or give a map with 'type: NAME' and the parameters");
      return false;
    }
    if (!expanded->IsMap()) {
      problem(path, "the name " + quote_token(name) + " expands to " + kind_name(*expanded) + ", expected a map with 'type:'");
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
        // An explicit null of a key this component does not know means "unset": a higher layer can clear
        // a key of another type (`backbone.heads: ~`) without an unknown-key error.
        if (is_unset(it->second)) continue;
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
    // A non-finite number is refused unless it is the parameter's own default (min_rating: -.inf = "keep
    // all"): a run's stored config has every default filled in, and `xrec eval` / `run --resume` read it back.
    if (!finite(v) && !(v == spec.default_value)) {
      problem(path, "expected a finite number (" + spec.describe_type() + "), found " + describe_found(n));
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

  // NaN and infinities are never meaningful settings (a learning rate of .nan fails deep in training).
  static bool finite(const Value& v) {
    if (auto d = std::get_if<double>(&v.storage())) return std::isfinite(*d);
    if (auto l = std::get_if<std::vector<double>>(&v.storage()))
      return std::all_of(l->begin(), l->end(), [](double x) { return std::isfinite(x); });
    return true;
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
      if (!name.empty() && !schema_.unrecorded.count(name)) canon_at(root, name) = canon_params(params, "");
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
    // Each configured stage with the keys it writes, not filled from `train:`: a written key wins over the
    // strategy's value for that stage and an unwritten one does not, so the two must hash differently
    // (docs/adr/0004-stages.md). What a stage trained with is logged when it starts.
    for (auto& [name, given] : stage_overrides_)
      if (!given.values().empty()) root.map[kStages].map[name] = canon_params(given, "");
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
  std::map<std::string, Params> stage_overrides_;  // stage name -> the keys it sets itself
  std::set<std::string> rejected_;                 // keys given with a bad value: reported once, not again as missing
  std::vector<std::string> resolved_plugin_paths_;
  ResolvedConfig out_;
};

}  // namespace

ResolvedConfig resolve_config(const Config& config, const Registry& registry, const ConfigSchema& schema) {
  return Resolver(config, registry, schema).run();
}

}  // namespace xrec::config_detail
