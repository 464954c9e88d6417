#pragma once
// Metric lookup for model selection. The metrics themselves are in xrec/api/metrics.hpp (shared with
// plugins and `xrec compare`).
#include <string>

#include "xrec/api/metrics.hpp"

namespace xrec::engine {

// Looks up `key` in `metrics`; throws xrec::InputError listing the available keys if absent.
double metric_value(const MetricMap& metrics, const std::string& key);

}  // namespace xrec::engine
