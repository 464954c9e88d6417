#pragma once
// The interaction list every "one interaction per row" format reduces to, and its conversion to a
// DomainData (header-only; not a plugin). Raw ids are interned as rows arrive, so a row costs a few
// integers however long the ids are (Amazon's rating files have millions of rows).
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "xrec/api/data.hpp"
#include "id_map.hpp"

namespace xrec::datasets {

class InteractionLog {
 public:
  struct Row {
    int64_t time;
    int64_t user;  // interned user index (first appearance)
    int64_t item;  // interned item index (first appearance), renumbered by number_items in build()
    float rating;
  };

  void add(std::string_view user, std::string_view item, float rating = 0.f, int64_t time = 0) {
    rows_.push_back({time, users_.intern(user), items_.intern(item), rating});
  }

  bool empty() const { return rows_.empty(); }
  size_t size() const { return rows_.size(); }
  const IdInterner& users() const { return users_; }
  const IdInterner& items() const { return items_; }

  struct Options {
    bool timestamps = false;    // fill d.timestamps
    bool ratings = false;       // fill d.ratings
    bool sort_by_time = false;  // order each user's rows by time (stable: ties keep file order)
  };

  // Fills d.sequences, user_ids (first appearance), item_ids and num_items (number_items' rule), and the
  // timestamps / ratings asked for. Returns item id per interned item index, for attaching side data.
  std::vector<int64_t> build(DomainData& d, const Options& opt) const {
    const std::vector<int64_t> item_id = number_items(items_, &d.item_ids);
    d.num_items = items_.size();
    d.user_ids = users_.labels();
    const auto num_users = static_cast<size_t>(users_.size());

    // Group rows by user keeping file order (a counting sort), then order each user's rows by time.
    std::vector<size_t> start(num_users + 1, 0);
    for (auto& r : rows_) ++start[static_cast<size_t>(r.user) + 1];
    for (size_t u = 0; u < num_users; ++u) start[u + 1] += start[u];
    std::vector<const Row*> grouped(rows_.size());
    std::vector<size_t> fill(start.begin(), start.end() - 1);
    for (auto& r : rows_) grouped[fill[static_cast<size_t>(r.user)]++] = &r;

    d.sequences.assign(num_users, {});
    if (opt.timestamps) d.timestamps.assign(num_users, {});
    if (opt.ratings) d.ratings.assign(num_users, {});
    for (size_t u = 0; u < num_users; ++u) {
      auto first = grouped.begin() + static_cast<std::ptrdiff_t>(start[u]);
      auto last = grouped.begin() + static_cast<std::ptrdiff_t>(start[u + 1]);
      if (opt.sort_by_time)
        std::stable_sort(first, last, [](const Row* a, const Row* b) { return a->time < b->time; });
      auto& seq = d.sequences[u];
      seq.reserve(static_cast<size_t>(last - first));
      for (auto it = first; it != last; ++it) {
        seq.push_back(item_id[static_cast<size_t>((*it)->item)]);
        if (opt.timestamps) d.timestamps[u].push_back((*it)->time);
        if (opt.ratings) d.ratings[u].push_back((*it)->rating);
      }
    }
    return item_id;
  }

 private:
  IdInterner users_, items_;
  std::vector<Row> rows_;
};

}  // namespace xrec::datasets
