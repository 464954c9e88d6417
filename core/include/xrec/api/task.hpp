#pragma once
// A domain after splitting: what a transfer strategy trains and evaluates on.
#include <cstdint>
#include <string>
#include <vector>

#include "xrec/api/data.hpp"

namespace xrec {

enum class Split { Valid, Test };
inline const char* to_string(Split s) { return s == Split::Valid ? "valid" : "test"; }

struct Task {
  std::string name;        // domain name, e.g. "Beauty"
  std::string role;        // "target" or "source"
  const DomainData* data = nullptr;
  std::vector<std::vector<int64_t>> train;  // training sequences (time order)
  std::vector<EvalCase> valid, test;

  int64_t num_items() const { return data ? data->num_items : 0; }
};

// Pointwise samples for user cold start (MPP, MeLU): label 1 for an interaction, 0 for a sampled
// non-interaction.
struct LabeledItem {
  int64_t item = 0;
  float label = 0;
};

// One user as a meta-learning task: support = the first interactions (with sampled negatives),
// query = the rest (with sampled negatives).
struct UserTask {
  int64_t user = 0;
  std::vector<LabeledItem> support, query;
};

// Which part of a user's pairs: the support set (adaptation) or the query set (evaluation of the adapted model).
enum class UserPart { Support, Query };
inline const char* to_string(UserPart p) { return p == UserPart::Support ? "support" : "query"; }

// Users split into warm (meta-training) and cold (held out) by the time of their first interaction,
// or at random.
struct ColdStartTask {
  std::string name;
  const DomainData* data = nullptr;
  std::vector<UserTask> warm, cold;
};

}  // namespace xrec
