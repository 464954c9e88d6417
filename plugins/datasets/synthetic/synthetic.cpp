// Dataset plugin: synthetic domains with known structure, for producing transfer and negative transfer on
// purpose. Items of every domain are noisy copies of shared latent prototypes (a similarity knob per
// domain), and sequences follow a first-order transition model over the items' latent factors. The exact
// generative process is in README.md; keep the two in step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/plugin.hpp"

namespace {

using namespace xrec;

// Stream tags: each random quantity comes from its own stream, so changing one parameter (say `users`)
// leaves every other quantity as it was.
enum Stream : uint64_t { kPrototype = 1, kPrivate = 2, kPermutation = 3, kUser = 4 };

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// std::mt19937_64's output is fixed by the standard; its distributions are not, so draws are our own.
class Rng {
 public:
  Rng(uint64_t seed, Stream tag, uint64_t a, uint64_t b)
      : engine_(splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ tag) ^ a) ^ b)) {}

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  int64_t below(int64_t n) { return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform() * static_cast<double>(n))); }
  // Standard normal (Box-Muller; the pair's second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    const double t = 2.0 * M_PI * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Out- and in-factors of one item, interleaved per dimension (out_0, in_0, out_1, in_1, ...) so that a
// smaller latent_dim sees a prefix of the same draws.
void draw_factors(Rng& rng, int64_t dim, double* out, double* in) {
  for (int64_t c = 0; c < dim; ++c) {
    out[c] = rng.normal();
    in[c] = rng.normal();
  }
}

class Synthetic : public Dataset {
 public:
  explicit Synthetic(const Params& p)
      : domain_(p.integer("domain")), users_(p.integer("users")), items_(p.integer("items")),
        dim_(p.integer("latent_dim")), length_(p.real("length")), similarity_(p.real("similarity")),
        noise_(p.real("noise")), sharpness_(p.real("sharpness")), seed_(static_cast<uint64_t>(p.integer("seed"))),
        name_(p.str("name").empty() ? "synthetic" + std::to_string(domain_) : p.str("name")) {}

  DomainData load() override {
    make_factors();
    DomainData d;
    d.name = name_;
    d.num_items = items_;

    // Hidden mapping: latent item j (prototype j) gets item id perm[j] + 1.
    std::vector<int64_t> perm(static_cast<size_t>(items_));
    for (int64_t j = 0; j < items_; ++j) perm[static_cast<size_t>(j)] = j;
    Rng prng(seed_, kPermutation, static_cast<uint64_t>(domain_), 0);
    for (int64_t i = items_ - 1; i > 0; --i) std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(prng.below(i + 1))]);
    d.item_ids.assign(static_cast<size_t>(items_) + 1, "");
    for (int64_t j = 0; j < items_; ++j)
      d.item_ids[static_cast<size_t>(perm[static_cast<size_t>(j)]) + 1] = "d" + std::to_string(domain_) + "-p" + std::to_string(j);

    // Sequence lengths: 3 + a geometric count with mean length - 3.
    const double extra = length_ - 3.0;
    const double log_stay = extra > 0 ? std::log(extra / (extra + 1.0)) : 0.0;  // ln(1 - p), p = 1 / (extra + 1)
    cdf_.assign(static_cast<size_t>(items_), {});
    d.sequences.reserve(static_cast<size_t>(users_));
    d.user_ids.reserve(static_cast<size_t>(users_));
    for (int64_t u = 0; u < users_; ++u) {
      Rng rng(seed_, kUser, static_cast<uint64_t>(domain_), static_cast<uint64_t>(u));
      int64_t n = 3;
      if (extra > 0) n += static_cast<int64_t>(std::floor(std::log(1.0 - rng.uniform()) / log_stay));
      std::vector<int64_t> seq;
      seq.reserve(static_cast<size_t>(n));
      int64_t j = rng.below(items_);
      seq.push_back(perm[static_cast<size_t>(j)] + 1);
      for (int64_t t = 1; t < n; ++t) {
        j = next_item(j, rng);
        seq.push_back(perm[static_cast<size_t>(j)] + 1);
      }
      d.sequences.push_back(std::move(seq));
      d.user_ids.push_back("d" + std::to_string(domain_) + "-u" + std::to_string(u));
    }
    return d;
  }

 private:
  // a_j = sqrt(s) z_out[j] + sqrt(1 - s) e_out[domain, j], b_j likewise from the in-factors.
  void make_factors() {
    const auto n = static_cast<size_t>(items_ * dim_);
    out_.assign(n, 0.0);
    in_.assign(n, 0.0);
    std::vector<double> zo(static_cast<size_t>(dim_)), zi(zo), eo(zo), ei(zo);
    const double shared = std::sqrt(similarity_), own = std::sqrt(1.0 - similarity_);
    for (int64_t j = 0; j < items_; ++j) {
      Rng proto(seed_, kPrototype, static_cast<uint64_t>(j), 0);
      Rng priv(seed_, kPrivate, static_cast<uint64_t>(domain_), static_cast<uint64_t>(j));
      draw_factors(proto, dim_, zo.data(), zi.data());
      draw_factors(priv, dim_, eo.data(), ei.data());
      for (int64_t c = 0; c < dim_; ++c) {
        const auto k = static_cast<size_t>(j * dim_ + c);
        out_[k] = shared * zo[static_cast<size_t>(c)] + own * eo[static_cast<size_t>(c)];
        in_[k] = shared * zi[static_cast<size_t>(c)] + own * ei[static_cast<size_t>(c)];
      }
    }
  }

  // One transition from latent item j: with probability `noise` a uniform other item, else a draw from
  // softmax over j' != j of sharpness * <a_j, b_j'> / sqrt(latent_dim).
  int64_t next_item(int64_t j, Rng& rng) {
    if (rng.uniform() < noise_) {
      const int64_t k = rng.below(items_ - 1);
      return k >= j ? k + 1 : k;
    }
    std::vector<double> scratch;
    const std::vector<double>& cdf = row(j, scratch);
    const double u = rng.uniform() * cdf.back();
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
    int64_t k = std::min<int64_t>(static_cast<int64_t>(it - cdf.begin()), items_ - 1);
    if (k == j) k = j > 0 ? j - 1 : j + 1;  // a guard: j's step has zero width, upper_bound never picks it
    return k;
  }

  // The cumulative transition weights of row j: cached while the cache stays under kCacheDoubles, else
  // recomputed into `scratch` (the same numbers either way, so the output does not depend on the cache).
  const std::vector<double>& row(int64_t j, std::vector<double>& scratch) {
    auto& cached = cdf_[static_cast<size_t>(j)];
    if (!cached.empty()) return cached;
    std::vector<double>& cdf = cached_doubles_ + static_cast<size_t>(items_) <= kCacheDoubles ? cached : scratch;
    cdf.assign(static_cast<size_t>(items_), 0.0);
    const double scale = sharpness_ / std::sqrt(static_cast<double>(dim_));
    const double* a = &out_[static_cast<size_t>(j * dim_)];
    double top = -HUGE_VAL;
    for (int64_t k = 0; k < items_; ++k) {
      if (k == j) continue;
      const double* b = &in_[static_cast<size_t>(k * dim_)];
      double dot = 0;
      for (int64_t c = 0; c < dim_; ++c) dot += a[c] * b[c];
      cdf[static_cast<size_t>(k)] = scale * dot;
      top = std::max(top, cdf[static_cast<size_t>(k)]);
    }
    double sum = 0;
    for (int64_t k = 0; k < items_; ++k) {
      if (k != j) sum += std::exp(cdf[static_cast<size_t>(k)] - top);  // no self transition
      cdf[static_cast<size_t>(k)] = sum;
    }
    if (&cdf == &cached) cached_doubles_ += static_cast<size_t>(items_);
    return cdf;
  }

  static constexpr size_t kCacheDoubles = size_t{1} << 23;  // 64 MB of transition rows

  int64_t domain_, users_, items_, dim_;
  double length_, similarity_, noise_, sharpness_;
  uint64_t seed_;
  std::string name_;
  std::vector<double> out_, in_;              // [items, latent_dim] out- and in-factors
  std::vector<std::vector<double>> cdf_;      // cached cumulative transition rows
  size_t cached_doubles_ = 0;
};

}  // namespace

XREC_PLUGIN("synthetic", "1.0.0", "Synthetic domains with shared latent item structure and a similarity knob") {
  using namespace xrec::param;
  registrar.add_dataset(
      "synthetic",
      "Generates one domain of a family: items are noisy copies of shared latent prototypes (similarity), "
      "sequences follow a first-order softmax transition model over the latent factors (see README.md).",
      {
          integer("domain", 0, "Which domain of the family: 0 = target, 1.. = sources (perturbs the shared space)")
              .range(0, 1e6),
          integer("users", 1000, "Users (one sequence each)").range(1, 1e7),
          integer("items", 500, "Items of this domain").range(2, 1e5),
          real("length", 20.0, "Mean sequence length: 3 + a geometric count with mean length - 3").range(3, 1e4),
          integer("latent_dim", 16, "Dimension of the latent item factors").range(1, 1024),
          real("similarity", 1.0,
               "Share of the item factors' variance that comes from the shared prototypes: 1 = the shared "
               "structure itself, 0 = unrelated to it")
              .range(0, 1),
          real("noise", 0.1, "Probability that a transition ignores the model and picks a uniform other item")
              .range(0, 1),
          real("sharpness", 2.0, "Inverse temperature of the transition softmax (0 = uniform transitions)")
              .range(0, 100),
          integer("seed", 0, "Seed of the family: the same seed in every domain gives the same shared prototypes")
              .at_least(0),
          string("name", "", "Domain name; empty = synthetic<domain>"),
      },
      [](const xrec::Params& p, const xrec::PluginContext&) { return std::make_shared<Synthetic>(p); });
}
