#pragma once
// The narrow interface through which a plugin registers its components. It never exposes host
// internals; factories receive validated Params and the PluginContext.
//
// The interface has ONE virtual entry, add_component, taking a type-erased factory: adding a kind to
// xrec/api/kinds.hpp adds inline add_<kind> wrappers but never changes the vtable.
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "xrec/api/context.hpp"
#include "xrec/api/kinds.hpp"
#include "xrec/api/params.hpp"

namespace xrec {

template <class T>
using Factory = std::function<std::shared_ptr<T>(const Params&, const PluginContext&)>;

// A factory with its product's type erased; the Kind stored beside it says what the void points to
// (always a T* of the kind's class, never a derived pointer, so casting back is exact).
using AnyFactory = std::function<std::shared_ptr<void>(const Params&, const PluginContext&)>;

// Wraps a typed factory (an empty one stays empty, so "no factory" is still detected).
template <class T>
AnyFactory erase_factory(Factory<T> f) {
  if (!f) return AnyFactory();
  return [f = std::move(f)](const Params& p, const PluginContext& ctx) -> std::shared_ptr<void> {
    std::shared_ptr<T> made = f(p, ctx);
    return made;
  };
}

class Registrar {
 public:
  virtual ~Registrar() = default;

  // The single entry: a component of `kind` whose factory makes the kind's class.
  virtual void add_component(Kind kind, const std::string& name, const std::string& doc, ParamSpecs params,
                             AnyFactory factory) = 0;

  // registrar.add<Backbone>("sasrec", "doc", {...}, factory)
  template <class T>
  void add(const std::string& name, const std::string& doc, ParamSpecs params, Factory<T> factory) {
    add_component(kind_of<T>(), name, doc, std::move(params), erase_factory<T>(std::move(factory)));
  }

  // registrar.add_backbone(...), add_item_encoder(...), one per kind of the table.
#define XREC_KIND_ADD_(Class, id, plural, doc)                                                  \
  void add_##id(const std::string& name, const std::string& doc_, ParamSpecs params, \
                Factory<Class> factory) {                                                     \
    add<Class>(name, doc_, std::move(params), std::move(factory));                            \
  }
  XREC_KINDS(XREC_KIND_ADD_)
#undef XREC_KIND_ADD_
};

}  // namespace xrec
