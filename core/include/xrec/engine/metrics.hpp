#pragma once
// Ranking metrics from the 0-based rank of each case's target (0 = ranked first). Torch-free so they can
// be checked against hand-computed values.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/transfer.hpp"

namespace xrec::engine {

// hr@K (= recall@K with one target), ndcg@K = 1/log2(rank+2) if rank < K, mrr@K, and mrr over all ranks.
MetricMap ranking_metrics(const std::vector<int64_t>& ranks, const std::vector<int64_t>& ks);

// Looks up `key` in `metrics`; throws xrec::InputError listing the available keys if absent.
double metric_value(const MetricMap& metrics, const std::string& key);

}  // namespace xrec::engine
