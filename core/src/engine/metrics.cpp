#include "xrec/engine/metrics.hpp"

#include "xrec/api/errors.hpp"

namespace xrec::engine {

double metric_value(const MetricMap& metrics, const std::string& key) {
  auto it = metrics.find(key);
  if (it != metrics.end()) return it->second;
  std::string known;
  for (auto& [k, v] : metrics) known += (known.empty() ? "" : ", ") + k;
  throw InputError("metric '" + key + "' is not computed (available: " + known + "); check train.select_metric and eval.ks");
}

}  // namespace xrec::engine
