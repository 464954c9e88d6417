#pragma once
// A domain after splitting: what a transfer strategy trains and evaluates on.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/data.hpp"

namespace xrec {

enum class Split { Valid, Test };
inline const char* to_string(Split s) { return s == Split::Valid ? "valid" : "test"; }

// One evaluation case: rank `target` for `user` given `history` (time order, no padding). With the
// sampled protocol, `negatives` are the candidates ranked against the target.
struct EvalCase {
  int64_t user = 0;
  std::vector<int64_t> history;
  int64_t target = 0;
  std::vector<int64_t> negatives;
};

struct Task {
  std::string name;        // domain name, e.g. "Beauty"
  std::string role;        // "target" or "source"
  const DomainData* data = nullptr;
  std::vector<std::vector<int64_t>> train;  // training sequences (time order)
  std::vector<EvalCase> valid, test;

  int64_t num_items() const { return data ? data->num_items : 0; }
};

}  // namespace xrec
