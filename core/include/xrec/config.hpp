#pragma once
// YAML configs: layered (defaults: [..] includes, then the file, then command-line overrides a.b=value),
// validated against the host's sections and the plugins' ParamSpecs before anything runs, resolved to
// canonical YAML (defaults filled in) that is hashed and stored with the run.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xrec/api/errors.hpp"
#include "xrec/api/params.hpp"
#include "xrec/api/registrar.hpp"
#include "xrec/registry.hpp"
#include "xrec/suggest.hpp"

namespace xrec {

// Where a value came from: a file position, or the command line.
struct SourceLocation {
  std::string file;  // path, or "<command line>"
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;    // 1-based
  std::string str() const;  // "configs/q.yaml:12:5"
};

// A config problem: "configs/q.yaml:12:5: backbone.hiden: unknown key; did you mean 'hidden'? ..."
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

// Where components sit in a config and which host sections exist. The engine defines the real one.
struct ConfigSchema {
  struct Slot {
    std::string path;  // "backbone", "data.target", "data.sources" (a list slot)
    Kind kind;
    bool required = false;
    bool list = false;  // a YAML sequence of components
    std::string doc;
    // Host keys accepted in this section besides the component's own params (validated the same way and
    // included in the component's Params), e.g. k_core for every data section.
    ParamSpecs common;
    // A section given as a plain name (`data.target: beauty`) is replaced by the map this returns (which
    // must hold `type:`); nullopt = unknown name. Unset: a plain name is an error.
    std::function<std::optional<YAML::Node>(const std::string& name)> expand_name;
    std::function<std::vector<std::string>()> known_names;  // for "did you mean" on unknown names
    // Accepted as written, neither validated nor resolved: a command that needs only part of a config
    // (`xrec data` skips the model slots, so their plugins need not load).
    bool skip = false;
  };
  std::map<std::string, ParamSpecs> sections;  // "" = top-level keys; "train", "eval", ...
  // The section `stages.<name>.*` keys are validated against and default to ("train"); empty = a config may
  // not have `stages:`. The config code names no stage keys itself: they are this section's specs.
  std::string stage_section;
  std::vector<Slot> slots;                    // a component section: `type: NAME` + the component's params
  // Sections validated and resolved like the others but left out of the canonical YAML, its hash and the
  // flat params: how a run is executed (`distributed:`), not what it computes.
  std::set<std::string> unrecorded;
};

struct ComponentConfig {
  std::string path;  // "backbone", "data.sources[1]"
  Kind kind;
  std::string type;  // component name, e.g. "sasrec"
  Params params;
};

struct ResolvedConfig {
  std::map<std::string, Params> sections;  // validated host sections ("" = top level)
  std::vector<ComponentConfig> components;
  // Each configured stage's resolved options: the stage section with `stages.<name>` applied over it.
  std::map<std::string, Params> stages;
  // The keys each configured stage writes itself (`stages.<name>.<key>`, even when equal to a default): they
  // win over a strategy's own stage values (docs/adr/0004-stages.md). The canonical YAML records these keys
  // only, so two configs that differ in what they write hash differently.
  std::map<std::string, std::set<std::string>> stage_keys;
  std::string stage_section = "train";  // ConfigSchema::stage_section: what an unconfigured stage gets
  std::string yaml;  // canonical YAML: every key resolved, defaults filled, keys sorted
  std::string hash;  // sha256 of yaml
  std::vector<std::pair<std::string, std::string>> flat;  // "backbone.hidden" -> "64", for SQL filters

  const Params& section(const std::string& name) const;
  // The options of one training stage: the `train:` section with `stages.<stage>` applied over it key by key
  // (a stage not named in the config gets `train:` as it is).
  Params stage(const std::string& stage) const;
  // Whether the config writes `stages.<stage>.<key>` itself.
  bool stage_sets(const std::string& stage, const std::string& key) const;
  // The stage names the config sets keys for (`stages: {pretrain: {...}, finetune: {...}}`), sorted.
  std::vector<std::string> stage_names() const;
  const ComponentConfig* component(const std::string& path) const;  // nullptr if absent
  std::vector<const ComponentConfig*> components_at(const std::string& slot_path) const;
};

class Config {
 public:
  // Reads `path` and its includes; throws ConfigError on unreadable files, YAML syntax errors (with the
  // file position), include cycles and malformed overrides. Overrides are `key.path[i].key=VALUE`, VALUE
  // parsed as YAML, applied in order; a null value unsets what lower layers set (docs/config.md).
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});
  static Config parse(const std::string& yaml_text, const std::string& name = "<string>",
                      const std::vector<std::string>& overrides = {});

  const YAML::Node& root() const { return root_; }
  // `plugin_paths:` before validation (plugins must be loaded before the config can be validated),
  // made absolute relative to the file that set them.
  std::vector<std::string> plugin_paths() const;
  // Validates everything at once and throws one ConfigError listing every problem.
  ResolvedConfig resolve(const Registry& registry, const ConfigSchema& schema) const;
  // Where a key path ("backbone.hidden") was set, if known.
  std::optional<SourceLocation> location(const std::string& key_path) const;

 private:
  YAML::Node root_;
  std::map<std::string, SourceLocation> locations_;  // key path -> where its final value was set
};

}  // namespace xrec
