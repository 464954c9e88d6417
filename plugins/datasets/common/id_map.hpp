#pragma once
// Raw id -> dense index maps shared by the dataset plugins (header-only; not a plugin). Keeping one
// numbering rule for all formats means the same raw files give the same item ids whatever plugin reads them.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xrec::datasets {

// Interns raw ids in order of first appearance: index 0, 1, 2, ... Built for millions of ids (Amazon's
// rating files): labels share one character pool, and lookups probe an open-addressing table of
// (hash, index) pairs, so a lookup touches one slot and rarely compares text.
class IdInterner {
 public:
  // The index of `raw`, adding it when new.
  int64_t intern(std::string_view raw) {
    if (2 * (size() + 1) > static_cast<int64_t>(slots_.size())) grow();
    const uint64_t h = std::hash<std::string_view>{}(raw);
    for (size_t s = h & (slots_.size() - 1);; s = (s + 1) & (slots_.size() - 1)) {
      Slot& slot = slots_[s];
      if (slot.index == 0) {
        pool_.append(raw);
        offsets_.push_back(pool_.size());
        slot = {h, size()};
        return size() - 1;
      }
      if (slot.hash == h && label(slot.index - 1) == raw) return slot.index - 1;
    }
  }
  // The index of `raw`, or -1 when it was never interned.
  int64_t find(std::string_view raw) const {
    if (slots_.empty()) return -1;
    const uint64_t h = std::hash<std::string_view>{}(raw);
    for (size_t s = h & (slots_.size() - 1);; s = (s + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[s];
      if (slot.index == 0) return -1;
      if (slot.hash == h && label(slot.index - 1) == raw) return slot.index - 1;
    }
  }
  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  std::string_view label(int64_t i) const {
    const auto k = static_cast<size_t>(i);
    return std::string_view(pool_).substr(offsets_[k], offsets_[k + 1] - offsets_[k]);
  }
  std::vector<std::string> labels() const {
    std::vector<std::string> out;
    out.reserve(static_cast<size_t>(size()));
    for (int64_t i = 0; i < size(); ++i) out.emplace_back(label(i));
    return out;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    int64_t index = 0;  // label index + 1; 0 = empty slot
  };
  // Doubles the table (kept at most half full, so probe runs stay short).
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, 2 * old.size()), Slot{});
    for (const Slot& o : old) {
      if (o.index == 0) continue;
      size_t s = o.hash & (slots_.size() - 1);
      while (slots_[s].index != 0) s = (s + 1) & (slots_.size() - 1);
      slots_[s] = o;
    }
  }

  std::string pool_;                 // all labels, back to back
  std::vector<size_t> offsets_{0};   // label i = pool_[offsets_[i], offsets_[i + 1])
  std::vector<Slot> slots_;          // size: a power of two (or empty)
};

// A positive decimal integer ("1", "1682"; not "0", "-3", "1e3", " 7").
inline bool is_positive_int(std::string_view s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

// The item numbering of every dataset plugin: when all raw ids are positive integers they keep their
// numeric order (files numbered 1..N stay 1..N, so negatives files and published splits line up); otherwise
// ids follow first appearance. Returns final[interned index] = item id in 1..N and sets `item_ids` to the
// raw id per item id, with "" for the padding id 0.
inline std::vector<int64_t> number_items(const IdInterner& items, std::vector<std::string>* item_ids) {
  const int64_t n = items.size();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::vector<uint64_t> value(static_cast<size_t>(n));
  bool numeric = true;
  for (int64_t i = 0; i < n && numeric; ++i) numeric = is_positive_int(items.label(i), &value[static_cast<size_t>(i)]);
  if (numeric)  // ties ("7" and "07") fall back to the text, so the order is total and deterministic
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      auto va = value[static_cast<size_t>(a)], vb = value[static_cast<size_t>(b)];
      return va != vb ? va < vb : items.label(a) < items.label(b);
    });
  std::vector<int64_t> final_id(static_cast<size_t>(n));
  item_ids->assign(1, "");
  item_ids->reserve(static_cast<size_t>(n) + 1);
  for (int64_t k = 0; k < n; ++k) {
    final_id[static_cast<size_t>(order[static_cast<size_t>(k)])] = k + 1;
    item_ids->emplace_back(items.label(order[static_cast<size_t>(k)]));
  }
  return final_id;
}

}  // namespace xrec::datasets
