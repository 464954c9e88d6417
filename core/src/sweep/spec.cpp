#include "xrec/sweep/spec.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "xrec/config.hpp"

namespace xrec::sweep {

namespace fs = std::filesystem;

namespace {

struct Ctx {
  std::string source;
  std::string at(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.line < 0) return source;
    return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& what) const { throw ConfigError(at(n) + ": " + what); }
};

// YAML text of a value, as an override's right-hand side: scalars as written, maps and lists in flow
// style, null as `null`.
std::string value_text(const YAML::Node& n) {
  if (!n || n.IsNull()) return "null";
  if (n.IsScalar()) {
    // A quoted scalar stays a string on the other side.
    if (n.Tag() == "!") return "'" + n.Scalar() + "'";
    return n.Scalar();
  }
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << n;
  return out.c_str();
}

void check_key(const Ctx& c, const YAML::Node& key_node) {
  const std::string key = key_node.as<std::string>();
  if (key.empty() || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos ||
      key.find('=') != std::string::npos || key.find(' ') != std::string::npos)
    c.fail(key_node, "'" + key + "' is not a config key path (expected e.g. train.lr or backbone.type)");
}

std::vector<Override> overrides_from(const Ctx& c, const YAML::Node& n, const std::string& where,
                                     const std::set<std::string>& skip = {}) {
  std::vector<Override> out;
  if (!n || n.IsNull()) return out;
  if (n.IsSequence()) {
    for (const auto& item : n) {
      if (!item.IsScalar()) c.fail(item, where + ": expected 'key=value' text");
      try {
        out.push_back(parse_override(item.Scalar(), c.at(item)));
      } catch (const InputError& e) {
        throw ConfigError(e.what());
      }
    }
    return out;
  }
  if (!n.IsMap()) c.fail(n, where + ": expected a map of key: value (or a list of 'key=value')");
  for (const auto& kv : n) {
    const std::string key = kv.first.as<std::string>();
    if (skip.count(key)) continue;
    check_key(c, kv.first);
    out.push_back({key, value_text(kv.second)});
  }
  return out;
}

int64_t integer_of(const Ctx& c, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) c.fail(n, what + ": expected an integer");
  const std::string& s = n.Scalar();
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size()) c.fail(n, what + ": '" + s + "' is not an integer");
  return v;
}

double real_of(const Ctx& c, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) c.fail(n, what + ": expected a number");
  const std::string& s = n.Scalar();
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size() || !std::isfinite(v)) c.fail(n, what + ": '" + s + "' is not a finite number");
  return v;
}

Distribution distribution_of(const Ctx& c, const YAML::Node& key, const YAML::Node& n) {
  Distribution d;
  d.key = key.as<std::string>();
  const std::string where = "random." + d.key;
  if (!n.IsMap() || n.size() != 1)
    c.fail(n, where +
                  ": expected one of {choice: [..]}, {uniform: [LOW, HIGH]}, {loguniform: [LOW, HIGH]}, "
                  "{int: [LOW, HIGH]}");
  const std::string kind = n.begin()->first.as<std::string>();
  const YAML::Node args = n.begin()->second;
  if (kind == "choice") {
    d.kind = Distribution::Kind::Choice;
    if (!args.IsSequence() || args.size() == 0) c.fail(args, where + ".choice: expected a non-empty list");
    for (const auto& v : args) d.choices.push_back(value_text(v));
    return d;
  }
  if (kind == "uniform")
    d.kind = Distribution::Kind::Uniform;
  else if (kind == "loguniform")
    d.kind = Distribution::Kind::LogUniform;
  else if (kind == "int")
    d.kind = Distribution::Kind::Int;
  else
    c.fail(n.begin()->first,
           where + ": unknown distribution '" + kind + "'; expected choice, uniform, loguniform or int");
  if (!args.IsSequence() || args.size() != 2) c.fail(args, where + "." + kind + ": expected [LOW, HIGH]");
  if (d.kind == Distribution::Kind::Int) {
    d.low = static_cast<double>(integer_of(c, args[0], where + ".int low"));
    d.high = static_cast<double>(integer_of(c, args[1], where + ".int high"));
    if (d.low > d.high) c.fail(args, where + ".int: low " + args[0].Scalar() + " is above high " + args[1].Scalar());
    return d;
  }
  d.low = real_of(c, args[0], where + "." + kind + " low");
  d.high = real_of(c, args[1], where + "." + kind + " high");
  if (!(d.low < d.high))
    c.fail(args,
           where + "." + kind + ": expected LOW < HIGH, got [" + args[0].Scalar() + ", " + args[1].Scalar() + "]");
  if (d.kind == Distribution::Kind::LogUniform && d.low <= 0)
    c.fail(args,
           where + ".loguniform: bounds must be above 0, got [" + args[0].Scalar() + ", " + args[1].Scalar() + "]");
  return d;
}

std::string format_real(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  std::string s = buf;
  // Keep it a YAML float (1 would read back as an integer).
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

Override parse_override(const std::string& arg, const std::string& where) {
  const size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(where + ": '" + arg + "' is not an override (expected key.path=value)");
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

bool is_spec_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception&) {
    return false;  // Config::load reports it with its position
  }
  return root.IsMap() && (root["base"] || root["grid"]);
}

Spec load_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("cannot read the sweep spec " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string folder = fs::path(path).parent_path().string();
  Spec spec = parse_spec(text.str(), path, folder.empty() ? "." : folder);
  if (spec.name.empty()) spec.name = fs::path(path).stem().string();
  return spec;
}

Spec parse_spec(const std::string& yaml_text, const std::string& source, const std::string& folder) {
  Ctx c{source};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ": YAML syntax error: " + e.msg);
  }
  if (!root.IsMap()) throw ConfigError(source + ": a sweep spec is a map with base:, grid:, seeds:, ...");
  static const std::set<std::string> known = {"name",   "base",  "overrides", "grid",    "variants",
                                              "random", "seeds", "select",    "threads", "timeout",
                                              "reference"};
  Spec spec;
  spec.source = source;
  spec.text = yaml_text;
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!known.count(key)) {
      std::string names;
      for (auto& k : known) names += (names.empty() ? "" : ", ") + k;
      c.fail(kv.first, "unknown sweep key '" + key + "'; expected one of " + names +
                           " (config keys go under overrides:, grid: or variants:)");
    }
  }
  if (auto n = root["name"]) {
    if (!n.IsScalar() || n.Scalar().empty()) c.fail(n, "name: expected a non-empty text");
    spec.name = n.Scalar();
  }
  const YAML::Node base = root["base"];
  if (!base) throw ConfigError(source + ": the sweep spec needs base: (a config file, or an inline config map)");
  if (base.IsScalar()) {
    fs::path p = base.Scalar();
    spec.base_path = (p.is_absolute() ? p : fs::path(folder) / p).lexically_normal().string();
    std::error_code ec;
    if (!fs::is_regular_file(spec.base_path, ec)) c.fail(base, "base: no config file at " + spec.base_path);
  } else if (base.IsMap()) {
    YAML::Emitter out;
    out << base;
    spec.base_inline = out.c_str();
  } else {
    c.fail(base, "base: expected a config file path or an inline config map");
  }
  spec.overrides = overrides_from(c, root["overrides"], "overrides");
  if (auto g = root["grid"]) {
    if (!g.IsMap() || g.size() == 0) c.fail(g, "grid: expected a map of key: [values...] with at least one key");
    for (const auto& kv : g) {
      check_key(c, kv.first);
      std::vector<std::string> values;
      if (kv.second.IsSequence()) {
        if (kv.second.size() == 0) c.fail(kv.second, "grid." + kv.first.as<std::string>() + ": empty list of values");
        for (const auto& v : kv.second) values.push_back(value_text(v));
      } else if (kv.second.IsScalar()) {
        values.push_back(value_text(kv.second));
      } else {
        c.fail(kv.second, "grid." + kv.first.as<std::string>() + ": expected a list of values");
      }
      std::set<std::string> seen;
      for (auto& v : values)
        if (!seen.insert(v).second)
          c.fail(kv.second, "grid." + kv.first.as<std::string>() + ": the value " + v + " is listed twice");
      spec.grid.emplace_back(kv.first.as<std::string>(), std::move(values));
    }
  }
  if (auto v = root["variants"]) {
    if (!v.IsSequence() || v.size() == 0) c.fail(v, "variants: expected a non-empty list of {name: ..., key: value}");
    std::set<std::string> names;
    for (const auto& item : v) {
      if (!item.IsMap() || !item["name"] || !item["name"].IsScalar())
        c.fail(item, "variants: each variant is a map with a name: and its overrides");
      Variant var;
      var.name = item["name"].Scalar();
      if (!names.insert(var.name).second) c.fail(item["name"], "variants: the name '" + var.name + "' is used twice");
      var.overrides = overrides_from(c, item, "variant " + var.name, {"name"});
      spec.variants.push_back(std::move(var));
    }
  }
  if (auto r = root["random"]) {
    if (!r.IsMap()) c.fail(r, "random: expected {budget: N, seed: S, params: {key: {distribution: [..]}}}");
    for (const auto& kv : r) {
      const std::string k = kv.first.as<std::string>();
      if (k != "budget" && k != "seed" && k != "params")
        c.fail(kv.first, "random: unknown key '" + k + "'; expected budget, seed or params");
    }
    if (!r["budget"]) c.fail(r, "random: needs budget: (how many samples)");
    spec.random_budget = integer_of(c, r["budget"], "random.budget");
    if (spec.random_budget < 1) c.fail(r["budget"], "random.budget: expected at least 1");
    if (r["seed"]) {
      int64_t s = integer_of(c, r["seed"], "random.seed");
      if (s < 0) c.fail(r["seed"], "random.seed: expected an integer >= 0");
      spec.random_seed = static_cast<uint64_t>(s);
    }
    const YAML::Node params = r["params"];
    if (!params || !params.IsMap() || params.size() == 0)
      c.fail(params ? params : r, "random.params: expected a map of key: {distribution: [..]}");
    for (const auto& kv : params) {
      check_key(c, kv.first);
      spec.random.push_back(distribution_of(c, kv.first, kv.second));
    }
  }
  if (auto s = root["seeds"]) {
    if (!s.IsSequence() || s.size() == 0) c.fail(s, "seeds: expected a non-empty list of integers, e.g. [1, 2, 3]");
    std::set<int64_t> seen;
    for (const auto& v : s) {
      int64_t seed = integer_of(c, v, "seeds");
      if (seed < 0) c.fail(v, "seeds: " + v.Scalar() + " is negative; seeds are integers >= 0");
      if (!seen.insert(seed).second) c.fail(v, "seeds: " + v.Scalar() + " is listed twice");
      spec.seeds.push_back(seed);
    }
  }
  if (auto s = root["select"]) {
    if (!s.IsMap()) c.fail(s, "select: expected {metric: ndcg@10, mode: max|min}");
    for (const auto& kv : s) {
      const std::string k = kv.first.as<std::string>();
      if (k != "metric" && k != "mode") c.fail(kv.first, "select: unknown key '" + k + "'; expected metric or mode");
    }
    if (auto m = s["metric"]) {
      if (!m.IsScalar() || m.Scalar().empty()) c.fail(m, "select.metric: expected a metric key such as ndcg@10");
      spec.select_metric = m.Scalar();
    }
    if (auto m = s["mode"]) {
      if (!m.IsScalar() || (m.Scalar() != "max" && m.Scalar() != "min")) c.fail(m, "select.mode: expected max or min");
      spec.select_mode = m.Scalar();
    }
  }
  if (auto t = root["threads"]) {
    spec.threads = integer_of(c, t, "threads");
    if (spec.threads < 1) c.fail(t, "threads: expected an integer >= 1 (threads per trial)");
  }
  if (auto t = root["timeout"]) {
    spec.timeout_s = real_of(c, t, "timeout");
    if (spec.timeout_s <= 0) c.fail(t, "timeout: expected seconds > 0");
  }
  // The variant whose trials are the scratch references of the others (view transfer_vs_scratch).
  if (auto r = root["reference"]) {
    if (!r.IsScalar() || r.Scalar().empty()) c.fail(r, "reference: expected the name of a variant");
    bool found = false;
    std::string names;
    for (const auto& v : spec.variants) {
      found = found || v.name == r.Scalar();
      names += (names.empty() ? "" : ", ") + v.name;
    }
    if (!found)
      c.fail(r, "reference: '" + r.Scalar() + "' is not a variant of this sweep" +
                    (names.empty() ? std::string(" (it has no variants:)") : " (variants: " + names + ")"));
    spec.reference = r.Scalar();
  }
  if (spec.grid.empty() && spec.variants.empty() && spec.random.empty() && spec.seeds.empty())
    throw ConfigError(source + ": the sweep has nothing to vary; give grid:, variants:, random: or seeds:");
  return spec;
}

std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char ch : text) {
    if (quote) {
      if (ch == quote) quote = 0;
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == '[' || ch == '{') {
      ++depth;
    } else if (ch == ']' || ch == '}') {
      --depth;
    } else if (ch == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += ch;
  }
  out.push_back(cur);
  for (auto& v : out) {
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t") + 1);
  }
  return out;
}

void add_grid_arg(Spec& spec, const std::string& arg) {
  Override o = parse_override(arg, "--grid");
  std::vector<std::string> values = split_values(o.value);
  for (auto& v : values)
    if (v.empty()) throw InputError("--grid " + arg + ": an empty value (expected key=v1,v2,...)");
  for (auto& [key, existing] : spec.grid)
    if (key == o.key) throw InputError("--grid " + arg + ": the key " + key + " already has a grid");
  spec.grid.emplace_back(o.key, values);
}

void set_seeds_arg(Spec& spec, const std::string& arg) {
  spec.seeds.clear();
  std::set<int64_t> seen;
  for (const std::string& v : split_values(arg)) {
    size_t used = 0;
    long long seed = -1;
    try {
      seed = std::stoll(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (v.empty() || used != v.size() || seed < 0)
      throw InputError("--seeds " + arg + ": '" + v + "' is not an integer >= 0 (expected e.g. --seeds 1,2,3)");
    if (!seen.insert(seed).second) throw InputError("--seeds " + arg + ": " + v + " is listed twice");
    spec.seeds.push_back(seed);
  }
}

std::vector<Point> expand(const Spec& spec) {
  // Variants (or one empty variant) x grid (odometer, last key fastest) x random samples.
  std::vector<Variant> variants = spec.variants;
  if (variants.empty()) variants.push_back({});
  std::vector<std::vector<Override>> grid_points{{}};
  for (const auto& [key, values] : spec.grid) {
    std::vector<std::vector<Override>> next;
    for (const auto& prefix : grid_points)
      for (const auto& v : values) {
        auto p = prefix;
        p.push_back({key, v});
        next.push_back(std::move(p));
      }
    grid_points = std::move(next);
  }
  std::vector<std::vector<Override>> samples{{}};
  if (!spec.random.empty()) {
    samples.clear();
    std::mt19937_64 rng(spec.random_seed);
    auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };  // same on every platform
    for (int64_t i = 0; i < spec.random_budget; ++i) {
      std::vector<Override> s;
      for (const Distribution& d : spec.random) {
        switch (d.kind) {
          case Distribution::Kind::Choice:
            s.push_back({d.key, d.choices[rng() % d.choices.size()]});
            break;
          case Distribution::Kind::Uniform:
            s.push_back({d.key, format_real(d.low + unit() * (d.high - d.low))});
            break;
          case Distribution::Kind::LogUniform:
            s.push_back(
                {d.key, format_real(std::exp(std::log(d.low) + unit() * (std::log(d.high) - std::log(d.low))))});
            break;
          case Distribution::Kind::Int: {
            const auto span = static_cast<uint64_t>(d.high - d.low) + 1;
            s.push_back({d.key, std::to_string(static_cast<int64_t>(d.low) + static_cast<int64_t>(rng() % span))});
            break;
          }
        }
      }
      samples.push_back(std::move(s));
    }
  }
  std::vector<Point> points;
  for (const auto& var : variants)
    for (const auto& g : grid_points)
      for (const auto& r : samples) {
        Point p;
        p.index = static_cast<int64_t>(points.size());
        p.overrides = spec.overrides;
        std::string label = var.name;
        for (const auto* part : {&var.overrides, &g, &r})
          for (const auto& o : *part) {
            p.overrides.push_back(o);
            if (part != &var.overrides) label += (label.empty() ? "" : " ") + o.str();
          }
        // Command-line overrides are the highest config layer (docs/config.md), above the sweep point.
        p.overrides.insert(p.overrides.end(), spec.final_overrides.begin(), spec.final_overrides.end());
        p.label = label.empty() ? "(base)" : label;
        points.push_back(std::move(p));
      }
  return points;
}

}  // namespace xrec::sweep
