#pragma once
// The host's table of components (kind, name) -> factory + param specs, filled by plugins through a
// staged Registrar: a plugin's components land all together or not at all.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xrec/api/registrar.hpp"

namespace xrec {

struct Component {
  Kind kind = Kind::Dataset;
  std::string name;
  std::string doc;
  ParamSpecs params;
  std::string plugin;  // name of the plugin library that registered it
  std::string path;    // path of that library
  // Exactly one factory is set, the one matching `kind`.
  Factory<Dataset> dataset;
  Factory<Backbone> backbone;
  Factory<Quantizer> quantizer;
  Factory<Transfer> transfer;
  Factory<Baseline> baseline;

  bool has_factory() const;  // the factory matching `kind` is set
};

class Registry {
 public:
  // Throws xrec::Error if (kind, name) is already registered, naming both plugins.
  void add(Component c);
  const Component* find(Kind kind, const std::string& name) const;
  // Like find, but throws xrec::InputError "unknown backbone 'sasrecc'; did you mean 'sasrec'? known: ..."
  const Component& get(Kind kind, const std::string& name) const;
  std::vector<const Component*> list() const;          // all, ordered by kind then name
  std::vector<std::string> names(Kind kind) const;

 private:
  std::map<std::pair<Kind, std::string>, Component> components_;
};

}  // namespace xrec
