#pragma once
// The one table of plugin kinds. Everything that depends on the set of kinds is generated from
// XREC_KINDS: the Kind enum, its names (to_string / kind_from_string), kind_of<T>(), the registrar's
// add_<kind> entry points, Component's make<T> and <kind>(params, ctx) accessors, the loader's and
// `xrec plugins`' messages. Adding a kind = one X(...) line here (plus its class header); see
// docs/plugins.md, "Adding a kind". The order is the documented kind order (listings sort by it).
//
//   X(Class, identifier, "plural", "what a component of this kind does")
//
// `identifier` is the kind's config/CLI name and the suffix of registrar.add_<identifier>.
#include <optional>
#include <string>
#include <vector>

#include "xrec/api/export.hpp"

#define XREC_KINDS(X)                                                                              \
  X(Dataset, dataset, "datasets", "Reads one domain's data")                                       \
  X(Backbone, backbone, "backbones", "Sequence encoder: item sequences to user states")            \
  X(Quantizer, quantizer, "quantizers", "Maps item vectors to discrete codes and back")            \
  X(Transfer, transfer, "transfer strategies", "Trains and evaluates a model across domains")      \
  X(Baseline, baseline, "baselines", "A complete non-neural recommender")                          \
  X(ItemEncoder, item_encoder, "item encoders", "Turns item ids and features into item vectors")   \
  X(PointwiseModel, pointwise_model, "pointwise models", "Scores (user, item) pairs, CTR-style")

namespace xrec {

// The classes of the kinds, forward-declared: the table needs only their names.
#define XREC_KIND_FORWARD_(Class, id, plural, doc) class Class;
XREC_KINDS(XREC_KIND_FORWARD_)
#undef XREC_KIND_FORWARD_

enum class Kind {
#define XREC_KIND_ENUM_(Class, id, plural, doc) Class,
  XREC_KINDS(XREC_KIND_ENUM_)
#undef XREC_KIND_ENUM_
};

// "backbone", "item_encoder": the name used in configs, listings and messages.
XREC_API const char* to_string(Kind k);
// "backbones", "item encoders".
XREC_API const char* kind_plural(Kind k);
// One line saying what a component of the kind does.
XREC_API const char* kind_doc(Kind k);
// Every kind in table order.
XREC_API const std::vector<Kind>& all_kinds();
// The kind named `name` ("item_encoder"), or nullopt.
XREC_API std::optional<Kind> kind_from_string(const std::string& name);

// kind_of<Backbone>() == Kind::Backbone; a class that is not in the table does not compile.
template <class T>
struct KindOf;
#define XREC_KIND_TRAIT_(Class, id, plural, doc) \
  template <>                                    \
  struct KindOf<Class> {                         \
    static constexpr Kind value = Kind::Class;   \
  };
XREC_KINDS(XREC_KIND_TRAIT_)
#undef XREC_KIND_TRAIT_

template <class T>
constexpr Kind kind_of() {
  return KindOf<T>::value;
}

}  // namespace xrec
