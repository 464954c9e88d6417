#pragma once
// Components the host provides itself, registered beside the plugins' so that configs name them like any
// other (`item_encoder: {type: id}`) and `xrec plugins list` shows them (plugin "xrec").
#include "xrec/registry.hpp"

namespace xrec::engine {

// The built-in item encoder `id`: one free vector per item and domain (the tables every model had before
// item encoders existed). Registered once per registry; later registrations by plugins of the same name
// clash like any duplicate.
void register_builtin_components(Registry& registry);

}  // namespace xrec::engine
