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

  // The type-erased factory and the kind of what it makes (set together by set_factory; a component
  // is only valid when factory_kind == kind).
  AnyFactory factory;
  Kind factory_kind = Kind::Dataset;

  template <class T>
  void set_factory(Factory<T> f) {
    factory = erase_factory<T>(std::move(f));
    factory_kind = kind_of<T>();
  }
  bool has_factory() const { return static_cast<bool>(factory) && factory_kind == kind; }

  // component.make<Backbone>(params, ctx). Throws xrec::Error when the component is of another kind
  // ("kind mismatch: asked for a component of kind backbone, but quantizer 'rq' is of kind quantizer")
  // or has no factory.
  template <class T>
  std::shared_ptr<T> make(const Params& params, const PluginContext& ctx) const {
    check_makes(kind_of<T>());
    return std::static_pointer_cast<T>(factory(params, ctx));
  }

  // component.backbone(params, ctx), component.item_encoder(params, ctx): make<T> per kind.
#define XREC_KIND_MAKE_(Class, id, plural, doc) \
  std::shared_ptr<Class> id(const Params& params, const PluginContext& ctx) const { return make<Class>(params, ctx); }
  XREC_KINDS(XREC_KIND_MAKE_)
#undef XREC_KIND_MAKE_

 private:
  void check_makes(Kind wanted) const;
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
