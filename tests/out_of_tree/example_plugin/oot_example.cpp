// oot_example: a dataset plugin built out of tree. It generates a small synthetic domain, so it needs
// no data files: users walk through a ring of items with occasional random jumps.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xrec/api/dataset.hpp"
#include "xrec/api/plugin.hpp"

namespace {

class SyntheticDomain : public xrec::Dataset {
 public:
  explicit SyntheticDomain(const xrec::Params& p)
      : name_(p.str("name")),
        users_(p.integer("num_users")),
        items_(p.integer("num_items")),
        length_(p.integer("seq_len")),
        jump_(p.real("jump_prob")),
        seed_(static_cast<uint64_t>(p.integer("seed"))) {}

  xrec::DomainData load() override {
    xrec::DomainData d;
    d.name = name_;
    d.num_items = items_;
    d.item_ids.push_back("");  // id 0 is padding
    for (int64_t i = 1; i <= items_; ++i) d.item_ids.push_back("i" + std::to_string(i));
    uint64_t state = seed_ * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&state] {  // splitmix64: deterministic across platforms
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    };
    for (int64_t u = 0; u < users_; ++u) {
      std::vector<int64_t> seq, ts;
      int64_t item = static_cast<int64_t>(next() % static_cast<uint64_t>(items_));
      for (int64_t t = 0; t < length_; ++t) {
        const bool jump = static_cast<double>(next() % 1000000) / 1e6 < jump_;
        item = jump ? static_cast<int64_t>(next() % static_cast<uint64_t>(items_)) : (item + 1) % items_;
        seq.push_back(item + 1);
        ts.push_back(1700000000 + u * 1000 + t);
      }
      d.user_ids.push_back("u" + std::to_string(u));
      d.sequences.push_back(std::move(seq));
      d.timestamps.push_back(std::move(ts));
    }
    d.validate();
    return d;
  }

 private:
  std::string name_;
  int64_t users_, items_, length_;
  double jump_;
  uint64_t seed_;
};

}  // namespace

XREC_PLUGIN("oot_example", "1.0.0", "Out-of-tree example: a synthetic dataset") {
  using namespace xrec;
  registrar.add_dataset(
      "oot_synthetic", "Synthetic ring-walk sequences for smoke tests (no data files needed)",
      {param::string("name", "synthetic", "Domain name used in results"),
       param::integer("num_users", 50, "Number of users").range(1, 100000),
       param::integer("num_items", 40, "Number of items").range(2, 100000),
       param::integer("seq_len", 12, "Interactions per user").range(3, 10000),
       param::real("jump_prob", 0.2, "Probability of jumping to a random item instead of the next one")
           .range(0, 1),
       param::integer("seed", 7, "Generator seed").at_least(0)},
      [](const Params& p, const PluginContext&) { return std::make_shared<SyntheticDomain>(p); });
}
