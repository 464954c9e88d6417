#pragma once
// The host's config schema: top-level run keys, the train/eval/split sections, and where components go.
#include "xrec/config.hpp"

namespace xrec::engine {

const ConfigSchema& run_schema();

}  // namespace xrec::engine
