#include "xrec/engine/builtins.hpp"

#include <torch/torch.h>

#include "xrec/api/item_encoder.hpp"
#include "xrec/engine/item_encoders.hpp"

namespace xrec::engine {

void register_builtin_components(Registry& registry) {
  if (registry.find(Kind::ItemEncoder, "id")) return;
  Component c;
  c.kind = Kind::ItemEncoder;
  c.name = "id";
  c.doc = "One free vector per item and domain, drawn normal(0, init_std) with the padding row zeroed (the default)";
  c.params = {param::real("init_std", 0.0,
                          "Standard deviation of the initial vectors; 0 = the backbone's own init_std when it has one, "
                          "else 0.02")
                  .at_least(0)};
  c.plugin = "xrec";
  c.path = "(built in)";
  c.set_factory<ItemEncoder>([](const Params& p, const PluginContext&) -> std::shared_ptr<ItemEncoder> {
    const double s = p.real("init_std");
    return std::make_shared<IdItemEncoder>(s > 0 ? s : 0.02);
  });
  registry.add(std::move(c));
}

}  // namespace xrec::engine
