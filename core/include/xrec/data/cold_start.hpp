#pragma once
// The user cold-start split of MPP / MeLU style experiments. Torch-free.
#include <cstdint>
#include <string>

#include "xrec/api/task.hpp"

namespace xrec::engine {

struct ColdStartOptions {
  std::string order = "time";   // time: users whose first interaction is latest are cold; random
  double cold_fraction = 0.2;   // share of users held out as cold
  int64_t support = 10;         // first N interactions form the support set, the rest the query set
  int64_t min_query = 1;        // users with fewer than support + min_query interactions are skipped
  int64_t negatives = 1;        // sampled non-interactions per positive, in support and query
  uint64_t seed = 0;
};

ColdStartTask cold_start_split(const DomainData& data, const ColdStartOptions& options);

}  // namespace xrec::engine
