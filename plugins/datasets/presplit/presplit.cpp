// Dataset plugin: pre-split sequence files in UniSRec's convention (`<name>.train/.valid/.test.inter`
// with `<name>.item2index`, `<name>.user2index`, `<name>.text`), and the variant without a training file
// (LLMRank's Games-6k: `.valid.inter`, `.test.inter`, `.item`). The files' own split becomes the
// GivenSplit; every user's whole known sequence is rebuilt from the rows so that other splits work too.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "../common/table_reader.hpp"
#include "xrec/api/dataset.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/files.hpp"
#include "xrec/api/plugin.hpp"

namespace fs = std::filesystem;

namespace {

using namespace xrec;
using namespace xrec::datasets;

const char* kHint =
    "Pre-split files follow UniSRec's convention (<name>.train.inter, .valid.inter, .test.inter, .item2index, "
    ".user2index, .text), e.g. dataset/Scientific of https://github.com/ysh-1998/CoWPiRec, or LLMRank's "
    "Games-6k (.valid.inter, .test.inter, .item; https://github.com/RUCAIBox/LLMRank).";

const char* kInterHeader = "user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token";

// A non-negative decimal integer, the whole field ("0", "4384"; not "-1", "1.0", "").
bool parse_index(std::string_view s, int64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "name:type" header fields of RecBole's atomic files; the name may be anything, the type must match.
bool has_type(std::string_view field, std::string_view type) {
  const size_t colon = field.rfind(':');
  return colon != std::string_view::npos && colon > 0 && field.substr(colon + 1) == type;
}

std::string shown_fields(const std::vector<std::string_view>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) s += (i ? ", " : "") + shown(fields[i]);
  return s;
}

std::string items_text(const std::vector<int64_t>& items, size_t last) {
  std::string s = items.size() > last ? "... " : "";
  for (size_t i = items.size() > last ? items.size() - last : 0; i < items.size(); ++i)
    s += std::to_string(items[i]) + (i + 1 < items.size() ? " " : "");
  return "[" + s + "]";
}

// One row of a .inter file: first with the indices as written, later with user slot and item ids.
struct InterRow {
  int64_t user = 0;
  std::vector<int64_t> history;
  int64_t target = 0;
  size_t line = 0;
};

struct InterFile {
  std::string path;
  std::vector<InterRow> rows;
};

InterFile read_inter(const std::string& path) {
  const std::string text = read_file(path);
  RecordReader r(text, path, Separator::Tab);
  if (!r.next())
    throw InputError(path + ": empty file (expected the header `" + std::string(kInterHeader) +
                     "` and one row `user<TAB>history items<TAB>target` per case)");
  const auto& h = r.fields();
  if (h.size() != 3 || !has_type(h[0], "token") || !has_type(h[1], "token_seq") || !has_type(h[2], "token"))
    throw InputError(r.where() + "bad header " + shown_fields(h) + ": expected 3 tab-separated fields `" +
                     kInterHeader + "` (any names, these types)");
  InterFile f{path, {}};
  while (r.next()) {
    const auto& c = r.fields();
    if (c.size() != 3) throw InputError(column_count_error(r, 3, "user<TAB>space-separated history<TAB>target"));
    InterRow row;
    row.line = r.line();
    if (!parse_index(trim(c[0]), &row.user))
      throw InputError(r.where() + "user index " + shown(c[0]) + " is not a non-negative integer");
    for (auto tok : split_whitespace(c[1])) {
      int64_t v;
      if (!parse_index(tok, &v))
        throw InputError(r.where() + "history item " + shown(tok) +
                         " is not a non-negative integer (column 2 holds space-separated item indices)");
      row.history.push_back(v);
    }
    if (!parse_index(trim(c[2]), &row.target))
      throw InputError(r.where() + "target item " + shown(c[2]) + " is not a non-negative integer");
    f.rows.push_back(std::move(row));
  }
  if (f.rows.empty()) throw InputError(path + ": no rows after the header (expected one row per case)");
  return f;
}

// `<name>.item2index` / `<name>.user2index`: `raw id<TAB>index` lines, indices dense from 0 or from 1.
struct IndexMap {
  std::string path;
  std::vector<std::string> labels;  // labels[index - base]
  int64_t base = 0;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  std::string range() const { return std::to_string(base) + ".." + std::to_string(base + size() - 1); }
};

IndexMap read_index_map(const std::string& path) {
  const std::string text = read_file(path);
  RecordReader r(text, path, Separator::Whitespace);
  std::unordered_map<std::string, size_t> raw_line;
  std::map<int64_t, std::pair<std::string, size_t>> by_index;  // ordered: gives the base and the gaps
  while (r.next()) {
    const auto& c = r.fields();
    if (c.size() != 2) throw InputError(column_count_error(r, 2, "raw id<TAB>index"));
    int64_t index;
    if (!parse_index(c[1], &index))
      throw InputError(r.where() + "index " + shown(c[1]) + " is not a non-negative integer");
    if (auto [it, fresh] = raw_line.emplace(std::string(c[0]), r.line()); !fresh)
      throw InputError(r.where() + "raw id " + shown(c[0]) + " already has an index on line " + std::to_string(it->second));
    if (auto [it, fresh] = by_index.emplace(index, std::make_pair(std::string(c[0]), r.line())); !fresh)
      throw InputError(r.where() + "index " + std::to_string(index) + " already belongs to " + shown(it->second.first) +
                       " (line " + std::to_string(it->second.second) + ")");
  }
  if (by_index.empty()) throw InputError(path + ": empty file (expected lines `raw id<TAB>index`)");
  IndexMap m;
  m.path = path;
  m.base = by_index.begin()->first;
  if (m.base > 1)
    throw InputError(path + ": the smallest index is " + std::to_string(m.base) + " (line " +
                     std::to_string(by_index.begin()->second.second) + "), expected indices from 0 or from 1");
  int64_t expect = m.base;
  for (auto& [index, entry] : by_index) {
    if (index != expect)
      throw InputError(at_line(path, entry.second) + "index " + std::to_string(index) + " skips index " +
                       std::to_string(expect) + ": expected dense indices " + std::to_string(m.base) + ".." +
                       std::to_string(m.base + static_cast<int64_t>(by_index.size()) - 1));
    m.labels.push_back(entry.first);
    ++expect;
  }
  return m;
}

// An atomic `.item` file (`item_id:token<TAB>title:token_seq ...`): token / token_seq columns become text
// fields, float columns numeric fields; other types (float_seq, ...) are skipped.
struct ItemTable {
  std::string path;
  std::vector<std::string> names;     // per column; [0] is the key
  std::vector<char> kinds;            // 't' text, 'n' numeric, 0 skipped
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> lines;
};

ItemTable read_item_table(const std::string& path) {
  const std::string text = read_file(path);
  RecordReader r(text, path, Separator::Tab);
  if (!r.next()) throw InputError(path + ": empty file (expected a header `item_id:token<TAB>title:token_seq ...`)");
  ItemTable t;
  t.path = path;
  for (auto f : r.fields()) {
    const size_t colon = f.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      throw InputError(r.where() + "bad header field " + shown(f) + ": expected `name:type` (e.g. item_id:token)");
    t.names.emplace_back(f.substr(0, colon));
    const auto type = f.substr(colon + 1);
    t.kinds.push_back(type == "token" || type == "token_seq" ? 't' : type == "float" ? 'n' : 0);
  }
  if (t.names.size() < 2 || !has_type(r.fields()[0], "token"))
    throw InputError(r.where() + "bad header " + shown_fields(r.fields()) +
                     ": expected the item key `item_id:token` first, then at least one field (e.g. title:token_seq)");
  while (r.next()) {
    if (r.fields().size() != t.names.size())
      throw InputError(column_count_error(r, t.names.size(), "the header's fields"));
    t.rows.emplace_back(r.fields().begin(), r.fields().end());
    t.lines.push_back(r.line());
  }
  if (t.rows.empty()) throw InputError(path + ": no rows after the header");
  return t;
}

// Adds the rows of `seq`'s owner given by one file row: its history must continue the items known so
// far (one ends with the other: histories keep only the latest items), then its target follows.
bool extend(std::vector<int64_t>& seq, const std::vector<int64_t>& history, int64_t target) {
  auto ends_with = [](const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    return b.size() <= a.size() && std::equal(b.begin(), b.end(), a.end() - static_cast<std::ptrdiff_t>(b.size()));
  };
  if (history.size() > seq.size()) {
    if (!ends_with(history, seq)) return false;
    seq = history;
  } else if (!ends_with(seq, history)) {
    return false;
  }
  seq.push_back(target);
  return true;
}

class Presplit : public Dataset {
 public:
  Presplit(const Params& p, const PluginContext& ctx) : p_(p), ctx_(ctx) {}

  DomainData load() override {
    const fs::path dir = find_folder(p_.str("path"));
    const std::string stem = p_.str("name").empty() ? detect_stem(dir) : p_.str("name");
    auto file = [&](const char* ext) { return (dir / (stem + ext)).string(); };
    auto exists = [](const std::string& path) {
      std::error_code ec;
      return fs::is_regular_file(path, ec);
    };

    std::string variant = p_.str("variant");
    if (variant == "auto") {
      if (exists(file(".train.inter")))
        variant = "unisrec";
      else if (exists(file(".valid.inter")) && exists(file(".test.inter")))
        variant = "games";
      else
        throw InputError("presplit: cannot tell the variant of '" + stem + "' in " + dir.string() +
                         ": variant unisrec needs " + stem + ".train.inter, .valid.inter and .test.inter, variant "
                         "games needs " + stem + ".valid.inter and .test.inter; found: " + files_of(dir, stem) +
                         ". " + kHint);
    }
    std::vector<std::string> required = {".valid.inter", ".test.inter"};
    if (variant == "unisrec") required.insert(required.begin(), ".train.inter");
    for (auto& ext : required)
      if (!exists(file(ext.c_str())))
        throw InputError("presplit (variant " + variant + "): " + file(ext.c_str()) + " does not exist; found: " +
                         files_of(dir, stem) + ". " + kHint);

    DomainData d;
    d.name = stem;
    std::optional<InterFile> train;
    if (variant == "unisrec") train = read_inter(file(".train.inter"));
    InterFile valid = read_inter(file(".valid.inter"));
    InterFile test = read_inter(file(".test.inter"));
    std::vector<InterFile*> inters;
    if (train) inters.push_back(&*train);
    inters.push_back(&valid);
    inters.push_back(&test);
    for (auto* f : inters) d.source_files.push_back(f->path);

    std::optional<IndexMap> item_map, user_map;
    if (exists(file(".item2index"))) item_map = read_index_map(file(".item2index"));
    if (exists(file(".user2index"))) user_map = read_index_map(file(".user2index"));
    std::optional<ItemTable> item_table;
    if (exists(file(".item"))) item_table = read_item_table(file(".item"));
    for (auto* m : {&item_map, &user_map})
      if (*m) d.source_files.push_back((*m)->path);

    number_items(d, inters, item_map, item_table);
    number_users(d, inters, user_map);
    assemble(d, train ? &*train : nullptr, valid, test);

    if (exists(file(".text"))) read_text(d, file(".text"));
    if (item_table) attach_item_table(d, *item_table);
    return d;
  }

 private:
  // `path` is a folder: absolute, or relative to the data roots.
  fs::path find_folder(const std::string& path) const {
    std::error_code ec;
    auto is_file_hint = [&](const fs::path& p) {
      return fs::is_regular_file(p, ec)
                 ? " (it is a file; `path` names the folder that holds it, and `name` the file stem, e.g. path: " +
                       p.parent_path().string() + ", name: " + p.filename().string().substr(0, p.filename().string().find('.')) + ")"
                 : std::string();
    };
    if (fs::path(path).is_absolute()) {
      if (fs::is_directory(path, ec)) return path;
      throw InputError("presplit: folder '" + path + "' does not exist" + is_file_hint(path) + ". " + kHint);
    }
    for (auto& root : ctx_.data_roots) {
      const fs::path p = fs::path(root) / path;
      if (fs::is_directory(p, ec)) return p;
      if (std::string why = is_file_hint(p); !why.empty()) throw InputError("presplit: '" + p.string() + "'" + why);
    }
    std::string where;
    for (auto& root : ctx_.data_roots) where += "\n  " + root;
    if (where.empty()) where = "\n  (no data folder exists: set XREC_DATA, put the data in ../shared/data, or set data_root)";
    throw InputError("presplit: folder '" + path + "' not found; looked in:" + where +
                     "\nPut the folder under one of these, or point XREC_DATA or the config's data_root at its parent.\n" +
                     kHint);
  }

  // The one stem with a .train.inter or .valid.inter file in `dir`.
  static std::string detect_stem(const fs::path& dir) {
    std::set<std::string> stems;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string();
      for (const std::string ext : {".train.inter", ".valid.inter"})
        if (f.size() > ext.size() && f.compare(f.size() - ext.size(), ext.size(), ext) == 0)
          stems.insert(f.substr(0, f.size() - ext.size()));
    }
    if (stems.size() == 1) return *stems.begin();
    std::string list;
    for (auto& s : stems) list += (list.empty() ? "" : ", ") + s;
    if (stems.empty())
      throw InputError("presplit: no <name>.train.inter or <name>.valid.inter in " + dir.string() + ". " + kHint);
    throw InputError("presplit: " + dir.string() + " holds several datasets (" + list + "); set `name` to one of them");
  }

  // The files in `dir` starting with `stem.`, for "found: ..." in errors.
  static std::string files_of(const fs::path& dir, const std::string& stem) {
    std::set<std::string> names;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string();
      if (f.compare(0, stem.size() + 1, stem + ".") == 0) names.insert(f);
    }
    std::string list;
    for (auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return list.empty() ? "no file named " + stem + ".*" : list;
  }

  // Item ids 1..N from the file indices. With item2index, N = its size and id = index - base + 1; without
  // it, ids are the indices themselves shifted to start at 1 (0-based when any file holds index 0).
  void number_items(DomainData& d, const std::vector<InterFile*>& inters, const std::optional<IndexMap>& map,
                    const std::optional<ItemTable>& table) {
    int64_t base = 0, count = 0;
    if (map) {
      base = map->base;
      count = map->size();
      d.item_ids.assign(1, "");
      d.item_ids.insert(d.item_ids.end(), map->labels.begin(), map->labels.end());
    } else {
      int64_t lo = std::numeric_limits<int64_t>::max(), hi = -1;
      auto see = [&](int64_t i) {
        lo = std::min(lo, i);
        hi = std::max(hi, i);
      };
      for (auto* f : inters)
        for (auto& r : f->rows) {
          for (int64_t i : r.history) see(i);
          see(r.target);
        }
      if (table)  // items with side data but no interaction are items too
        for (auto& row : table->rows) {
          int64_t i;
          if (parse_index(row[0], &i)) see(i);
        }
      base = lo == 0 ? 0 : 1;
      count = hi - base + 1;
      d.item_ids.assign(1, "");
      for (int64_t k = 0; k < count; ++k) d.item_ids.push_back(std::to_string(base + k));
    }
    d.num_items = count;
    for (auto* f : inters)
      for (auto& r : f->rows) {
        auto id = [&](int64_t i) {
          if (i < base || i >= base + count)
            throw InputError(at_line(f->path, r.line) + "item index " + std::to_string(i) + " is outside " +
                             (map ? map->path : std::string("the items")) + " (indices " + std::to_string(base) +
                             ".." + std::to_string(base + count - 1) + ")");
          return i - base + 1;
        };
        for (auto& i : r.history) i = id(i);
        r.target = id(r.target);
      }
  }

  // Users 0..U-1: the user2index order, or else the distinct user indices of the files in ascending order.
  void number_users(DomainData& d, const std::vector<InterFile*>& inters, const std::optional<IndexMap>& map) {
    if (map) {
      d.user_ids = map->labels;
      for (auto* f : inters)
        for (auto& r : f->rows) {
          if (r.user < map->base || r.user >= map->base + map->size())
            throw InputError(at_line(f->path, r.line) + "user index " + std::to_string(r.user) + " is outside " +
                             map->path + " (indices " + map->range() + ")");
          r.user -= map->base;
        }
      return;
    }
    std::set<int64_t> seen;
    for (auto* f : inters)
      for (auto& r : f->rows) seen.insert(r.user);
    std::unordered_map<int64_t, int64_t> slot;
    for (int64_t u : seen) {
      slot.emplace(u, static_cast<int64_t>(d.user_ids.size()));
      d.user_ids.push_back(std::to_string(u));
    }
    for (auto* f : inters)
      for (auto& r : f->rows) r.user = slot[r.user];
  }

  // Per user: training sequence (variant unisrec: the chained training rows; games: the history of the
  // validation row), then every validation and test row extends the known sequence.
  void assemble(DomainData& d, const InterFile* train, const InterFile& valid, const InterFile& test) {
    const size_t users = d.user_ids.size();
    auto group = [&](const InterFile& f) {
      std::vector<std::vector<const InterRow*>> by_user(users);
      for (auto& r : f.rows) by_user[static_cast<size_t>(r.user)].push_back(&r);
      return by_user;
    };
    const auto valid_rows = group(valid), test_rows = group(test);
    std::vector<std::vector<const InterRow*>> train_rows;
    if (train) train_rows = group(*train);

    GivenSplit g;
    g.train.resize(users);
    d.sequences.resize(users);
    auto fail = [&](const InterFile& f, const InterRow& r, const std::vector<int64_t>& seq, const char* earlier) {
      throw InputError(at_line(f.path, r.line) + "the history " + items_text(r.history, 8) + " of user " +
                       shown(d.user_ids[static_cast<size_t>(r.user)]) + " does not continue the items of " + earlier +
                       ", which end with " + items_text(seq, 8) +
                       " (item ids; each row's history must be the user's latest items before its target)");
    };
    for (size_t u = 0; u < users; ++u) {
      std::vector<int64_t> seq;
      if (train) {
        // UniSRec writes a user's rows newest first; rows are chained oldest first whatever the file order.
        std::vector<const InterRow*> rows = train_rows[u];
        if (rows.size() > 1 && rows.front()->history.size() > rows.back()->history.size())
          std::reverse(rows.begin(), rows.end());
        for (auto* r : rows)
          if (!extend(seq, r->history, r->target)) fail(*train, *r, seq, "the user's earlier training rows");
        g.train[u] = seq;
      }
      for (auto* part : {&valid_rows[u], &test_rows[u]}) {
        std::vector<const InterRow*> rows = *part;
        std::stable_sort(rows.begin(), rows.end(),
                         [](const InterRow* a, const InterRow* b) { return a->history.size() < b->history.size(); });
        const InterFile& f = part == &valid_rows[u] ? valid : test;
        for (auto* r : rows) {
          if (!train && part == &valid_rows[u] && r == rows.front()) g.train[u] = r->history;
          if (!extend(seq, r->history, r->target))
            fail(f, *r, seq, part == &valid_rows[u] ? "the user's training rows" : "the user's training and validation rows");
        }
      }
      d.sequences[u] = std::move(seq);
    }
    for (auto [file, cases] : {std::make_pair(&valid, &g.valid), std::make_pair(&test, &g.test)})
      for (auto& r : file->rows) cases->push_back(EvalCase{r.user, r.history, r.target, {}});
    d.given_split = std::move(g);
  }

  // `<name>.text`: `raw item id<TAB>text` (an `item_id:token<TAB>text:token_seq` header is optional),
  // matched to the items through their raw ids.
  void read_text(DomainData& d, const std::string& path) {
    const std::string text = read_file(path);
    d.source_files.push_back(path);
    std::unordered_map<std::string_view, int64_t> id;
    for (size_t i = 1; i < d.item_ids.size(); ++i) id.emplace(d.item_ids[i], static_cast<int64_t>(i));
    TextFeature f{"text", std::vector<std::string>(d.item_ids.size())};
    std::vector<size_t> line_of(d.item_ids.size(), 0);
    const auto lines = split_lines(text);
    size_t rows = 0, matched = 0;
    for (size_t ln = 0; ln < lines.size(); ++ln) {
      if (trim(lines[ln]).empty()) continue;
      const size_t tab = lines[ln].find('\t');
      const std::string_view key = lines[ln].substr(0, tab == std::string_view::npos ? lines[ln].size() : tab);
      if (rows == 0 && key.find(':') != std::string_view::npos) {  // the header: raw ids have no ':'
        ++rows;
        continue;
      }
      ++rows;
      if (tab == std::string_view::npos)
        throw InputError(at_line(path, ln + 1) + "found 1 column, expected 2 (raw item id<TAB>text)");
      auto it = id.find(trim(key));
      if (it == id.end()) continue;  // text of an item the splits do not use
      auto& at = line_of[static_cast<size_t>(it->second)];
      if (at)
        throw InputError(at_line(path, ln + 1) + "item " + shown(key) + " already has a text on line " + std::to_string(at));
      at = ln + 1;
      f.values[static_cast<size_t>(it->second)] = std::string(trim(lines[ln].substr(tab + 1)));
      ++matched;
    }
    if (rows == 0) throw InputError(path + ": empty file (expected lines `raw item id<TAB>text`)");
    if (matched == 0)
      throw InputError(path + ": none of its item ids is an item of the domain (they are matched against " +
                       (d.item_ids.size() > 1 ? "raw ids such as " + shown(d.item_ids[1]) : std::string("the item ids")) +
                       ")");
    d.item_side.text.push_back(std::move(f));
  }

  // `.item` columns as item side fields, rows matched through the raw item ids (indices in Games-6k).
  void attach_item_table(DomainData& d, const ItemTable& t) {
    d.source_files.push_back(t.path);
    std::unordered_map<std::string_view, int64_t> id;
    for (size_t i = 1; i < d.item_ids.size(); ++i) id.emplace(d.item_ids[i], static_cast<int64_t>(i));
    const size_t rows = d.item_ids.size();
    std::vector<TextFeature> text;
    std::vector<NumericFeature> numeric;
    std::vector<size_t> column;
    for (size_t c = 1; c < t.names.size(); ++c) {
      if (t.kinds[c] == 't') text.push_back({t.names[c], std::vector<std::string>(rows)});
      if (t.kinds[c] == 'n') numeric.push_back({t.names[c], std::vector<double>(rows, std::nan(""))});
    }
    std::vector<size_t> line_of(rows, 0);
    size_t matched = 0;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto& row = t.rows[r];
      auto it = id.find(trim(row[0]));
      if (it == id.end()) continue;
      const auto item = static_cast<size_t>(it->second);
      if (line_of[item])
        throw InputError(at_line(t.path, t.lines[r]) + "item " + shown(row[0]) + " already has a row on line " +
                         std::to_string(line_of[item]));
      line_of[item] = t.lines[r];
      ++matched;
      size_t ti = 0, ni = 0;
      for (size_t c = 1; c < row.size(); ++c) {
        if (t.kinds[c] == 't') text[ti++].values[item] = std::string(trim(row[c]));
        if (t.kinds[c] == 'n') {
          double v = std::nan("");
          if (!trim(row[c]).empty() && !parse_real(row[c], &v))
            throw InputError(at_line(t.path, t.lines[r]) + "field '" + t.names[c] + "' holds " + shown(row[c]) +
                             ", expected a number (or nothing)");
          numeric[ni++].values[item] = v;
        }
      }
    }
    if (matched == 0)
      throw InputError(t.path + ": none of its item ids is an item of the domain (they are matched against " +
                       (d.item_ids.size() > 1 ? "raw ids such as " + shown(d.item_ids[1]) : std::string("the item ids")) +
                       ")");
    for (auto& f : text) d.item_side.text.push_back(std::move(f));
    for (auto& f : numeric) d.item_side.numeric.push_back(std::move(f));
  }

  Params p_;
  PluginContext ctx_;
};

}  // namespace

XREC_PLUGIN("presplit", "1.0.0", "Pre-split sequence files (UniSRec .train/.valid/.test.inter, LLMRank Games-6k)") {
  registrar.add_dataset(
      "presplit",
      "Reads UniSRec-style pre-split files <name>.train/.valid/.test.inter (+ .item2index, .user2index, .text) or "
      "the Games-6k variant (.valid/.test.inter + .item). The files' split is kept for `split.method: given`; "
      "sequences hold each user's whole known sequence.",
      {
          xrec::param::required("path", xrec::ParamType::String,
                                "Folder holding the files: absolute, or relative to the data roots (e.g. scientific)"),
          xrec::param::string("name", "",
                              "File stem (Scientific for Scientific.train.inter) and domain name; empty = the only "
                              "stem with a .train.inter or .valid.inter file in the folder"),
          xrec::param::string("variant", "auto",
                              "unisrec: training rows from <name>.train.inter; games: no training file, each user's "
                              "training sequence is the history of their validation row; auto: unisrec when "
                              "<name>.train.inter exists, else games")
              .one_of({"auto", "unisrec", "games"}),
      },
      [](const xrec::Params& p, const xrec::PluginContext& ctx) { return std::make_shared<Presplit>(p, ctx); });
}
