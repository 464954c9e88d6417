#include "xrec/suggest.hpp"

#include <algorithm>

namespace xrec {

// Damerau-Levenshtein restricted to non-overlapping edits (optimal string alignment): swapped neighbours
// are the commonest typo, so "hdiden" must be as near to "hidden" as "hiden" is.
size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::vector<std::string> nearest_names(const std::string& name, const std::vector<std::string>& candidates) {
  const size_t n = name.size();
  const size_t limit = std::max<size_t>(2, n / 3);
  struct Near {
    size_t score, distance, index;
  };
  std::vector<Near> near;
  // A name far longer than a candidate is never within `limit` edits of it; skipping it also keeps a
  // huge token (a pasted file) from costing quadratic time.
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string& c = candidates[i];
    if (n > c.size() + limit + 1 && n > 64) continue;
    const size_t distance = edit_distance(name, c);
    // A candidate reached only by rewriting every character ("lr" for "x") is no hint at all.
    if (distance >= std::max(n, c.size())) continue;
    size_t score = distance;
    // Long component names get shortened: "amazn" is far from "amazon_s3rec" but near its beginning.
    // Such a match ranks one edit behind an equally near whole name.
    if (n >= 4)
      for (size_t k = n - 1; k <= n + 1 && k < c.size(); ++k)
        score = std::min(score, edit_distance(name, c.substr(0, k)) + 1);
    if (score <= limit) near.push_back({score, distance, i});
  }
  std::stable_sort(near.begin(), near.end(), [](const Near& x, const Near& y) {
    return x.score != y.score ? x.score < y.score : x.distance < y.distance;
  });
  std::vector<std::string> out;
  for (const Near& m : near) {
    const size_t i = m.index;
    if (out.size() == 3) break;
    if (std::find(out.begin(), out.end(), candidates[i]) == out.end()) out.push_back(candidates[i]);
  }
  return out;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const std::vector<std::string> near = nearest_names(name, candidates);
  if (near.empty()) return "";
  std::string out = "; did you mean ";
  for (size_t i = 0; i < near.size(); ++i) {
    if (i > 0) out += i + 1 == near.size() ? " or " : ", ";
    out += "'" + near[i] + "'";
  }
  return out + "?";
}

}  // namespace xrec
