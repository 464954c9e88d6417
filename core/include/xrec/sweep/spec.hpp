#pragma once
// A sweep spec (docs/sweeps.md): a base config with overrides, crossed with variants, a grid and random
// samples, each point repeated for every seed. Parsing and expansion only: no plugins, no LibTorch.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xrec::sweep {

// One override `key=value`; value is YAML text (a scalar, `null`, or a flow map/list).
struct Override {
  std::string key, value;
  std::string str() const { return key + "=" + value; }
};

// A random search dimension: choice (any YAML values), uniform / loguniform (reals), int (inclusive).
struct Distribution {
  enum class Kind { Choice, Uniform, LogUniform, Int } kind = Kind::Choice;
  std::string key;
  std::vector<std::string> choices;  // YAML text of each choice
  double low = 0, high = 0;
};

struct Variant {
  std::string name;
  std::vector<Override> overrides;
};

struct Spec {
  std::string name;                       // sweep name ("" = the caller picks one)
  std::string source;                     // the spec file ("" = command line only)
  std::string base_path;                  // base config file (relative to the working directory)
  std::string base_inline;                // or an inline base config as YAML text
  std::vector<Override> overrides;        // applied to every point first
  std::vector<Override> final_overrides;  // command-line key=value: applied last, over the point
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;  // key -> YAML values, in order
  std::vector<Variant> variants;
  std::vector<Distribution> random;
  int64_t random_budget = 0;
  uint64_t random_seed = 0;
  std::vector<int64_t> seeds;  // empty: the config's own seed, one trial per point
  std::string select_metric;   // "" = the config's train.select_metric
  std::string select_mode;     // "", "max" or "min"
  int64_t threads = 0;         // per trial; 0 = cores / jobs
  double timeout_s = 0;        // per trial; 0 = none
  std::string reference;       // the variant whose trials are the others' scratch references ("" = none)
  std::string text;            // the spec as written (stored with the sweep)
};

// One point: the overrides that make it, and a readable label.
struct Point {
  int64_t index = 0;
  std::string label;                // "variant key=value key=value"
  std::vector<Override> overrides;  // spec overrides, variant, grid, random, command line (in that order)
};

// True when the YAML file holds a sweep spec (a top-level `base:` or `grid:`), not a config.
bool is_spec_file(const std::string& path);
// Parses a spec file. Every problem (unknown key, empty grid, bad distribution bounds, a seed that is
// not an integer, ...) throws xrec::ConfigError with file:line:column. The base path is made relative
// to the spec's folder.
Spec load_spec(const std::string& path);
Spec parse_spec(const std::string& yaml_text, const std::string& source, const std::string& folder = ".");
// Command-line pieces: `--grid key=v1,v2` (values split at top-level commas), `--seeds 1,2,3`.
void add_grid_arg(Spec& spec, const std::string& arg);
void set_seeds_arg(Spec& spec, const std::string& arg);
// Parses `key=value` into an Override (InputError when there is no '=' or no key).
Override parse_override(const std::string& arg, const std::string& where);

// Variants x grid x random samples, in a stable order (random samples drawn from random_seed).
std::vector<Point> expand(const Spec& spec);
// Splits "a,b,[1,2],{x: 1}" at commas outside brackets and braces.
std::vector<std::string> split_values(const std::string& text);

}  // namespace xrec::sweep
