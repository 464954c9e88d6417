// xrec data stats CONFIG [key=value ...] [--json] and xrec data convert CONFIG --out DIR [key=value ...]:
// the data sections of a config loaded exactly as `xrec run` loads them (catalog, cache, features,
// preprocessing), then summarised, or written as RecBole atomic files.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/config.hpp"
#include "xrec/data/data_pipeline.hpp"
#include "xrec/engine/experiment.hpp"
#include "xrec/engine/schema.hpp"
#include "xrec/engine/startup.hpp"
#include "xrec/json.hpp"
#include "xrec/loader.hpp"
#include "xrec/registry.hpp"

namespace xrec::cli {

namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: xrec data stats CONFIG [key.path=value ...] [--json] [--plugin-path DIR]...\n"
    "       xrec data convert CONFIG --out DIR [key.path=value ...] [--plugin-path DIR]...\n"
    "  stats:   per domain of the config's data sections (after preprocessing): users, items, interactions,\n"
    "           density, sequence length min/mean/median/p90/max, and the sizes of the configured split.\n"
    "  convert: writes each domain as RecBole atomic files DIR/<domain>/<domain>.inter (+ .item, .user with\n"
    "           the side columns), readable by the `atomic` dataset plugin.\n"
    "  Domains load as `xrec run` loads them: catalog files, data cache, features, k_core/max_length.\n"
    "  Only the data sections and host keys are validated: backbone, quantizer, transfer and baseline\n"
    "  sections are read past, and their plugins need not be installed.\n";

struct Domain {
  const ComponentConfig* section = nullptr;
  std::string role;
  engine::LoadedDomain loaded;
};

struct Session {
  std::unique_ptr<engine::Session> startup;
  ResolvedConfig config;
  std::deque<Domain> domains;  // stable addresses: tasks point at the data
};

// The run's start-up (config, plugins as `xrec run` finds them, data sections validated), then every
// data section loaded.
void open_session(Session& s, const std::string& config_path, const std::vector<std::string>& overrides,
                  const std::vector<std::string>& plugin_dirs) {
  engine::StartupOptions o;
  o.config_path = config_path;
  o.overrides = overrides;
  o.plugin_dirs = plugin_dirs;
  o.scope = engine::StartupOptions::Scope::Data;
  o.log_to_stderr = true;  // stdout holds only the result (--json)
  s.startup = std::make_unique<engine::Session>(o);
  s.config = s.startup->config();

  const Params& top = s.config.section("");
  PluginContext ctx;
  ctx.seed = static_cast<uint64_t>(top.integer("seed"));
  ctx.data_roots = engine::data_roots(top.str("data_root"));
  const std::vector<const ComponentConfig*> sections = engine::data_sections(s.config);
  for (size_t i = 0; i < sections.size(); ++i) {
    PluginContext c = ctx;
    c.log = s.startup->log()->clone(sections[i]->type);
    s.domains.push_back(
        {sections[i], i == 0 ? "target" : "source", engine::load_domain(s.startup->registry(), *sections[i], c)});
  }
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int stats(const std::string& config_path, const std::vector<std::string>& overrides,
          const std::vector<std::string>& plugin_dirs, bool as_json) {
  Session s;
  open_session(s, config_path, overrides, plugin_dirs);
  const uint64_t seed = static_cast<uint64_t>(s.config.section("").integer("seed"));
  const std::string method = s.config.section("split").str("method");

  struct Row {
    const Domain* domain;
    engine::DomainStats st;
    int64_t train_users = 0, train_interactions = 0, valid = 0, test = 0;
  };
  std::vector<Row> rows;
  for (size_t i = 0; i < s.domains.size(); ++i) {
    const Domain& d = s.domains[i];
    Row r{&d, engine::domain_stats(d.loaded.data)};
    const Task t = engine::make_task(d.loaded.data, d.role, i, s.config, seed, *d.section);
    r.train_users = static_cast<int64_t>(t.train.size());
    for (auto& q : t.train) r.train_interactions += static_cast<int64_t>(q.size());
    r.valid = static_cast<int64_t>(t.valid.size());
    r.test = static_cast<int64_t>(t.test.size());
    rows.push_back(r);
  }

  if (as_json) {
    json::Writer w;
    w.begin_object().member("config", config_path).member("split", method).key("domains").begin_array();
    for (auto& r : rows) {
      const DomainData& d = r.domain->loaded.data;
      w.begin_object()
          .member("name", d.name)
          .member("role", r.domain->role)
          .member("section", r.domain->section->path)
          .member("type", r.domain->section->type)
          .member("users", r.st.users)
          .member("items", r.st.items)
          .member("interactions", r.st.interactions)
          .member("density", r.st.density);
      w.key("length")
          .begin_object()
          .member("min", r.st.min_length)
          .member("mean", r.st.mean_length)
          .member("median", r.st.median_length)
          .member("p90", r.st.p90_length)
          .member("max", r.st.max_length)
          .end_object();
      w.key("split")
          .begin_object()
          .member("method", method)
          .member("train_users", r.train_users)
          .member("train_interactions", r.train_interactions)
          .member("valid_cases", r.valid)
          .member("test_cases", r.test)
          .end_object();
      w.member("from_cache", r.domain->loaded.from_cache).member("load_seconds", r.domain->loaded.load_seconds);
      w.end_object();
    }
    w.end_array().end_object();
    std::cout << w.str() << '\n';
    return 0;
  }

  std::vector<std::vector<std::optional<std::string>>> table, split;
  for (auto& r : rows) {
    const DomainData& d = r.domain->loaded.data;
    table.push_back({d.name, r.domain->role, std::to_string(r.st.users), std::to_string(r.st.items),
                     std::to_string(r.st.interactions), fixed(100 * r.st.density, 4) + "%",
                     std::to_string(r.st.min_length), fixed(r.st.mean_length, 2), std::to_string(r.st.median_length),
                     std::to_string(r.st.p90_length), std::to_string(r.st.max_length)});
    split.push_back({d.name, method, std::to_string(r.train_users), std::to_string(r.train_interactions),
                     std::to_string(r.valid), std::to_string(r.test),
                     std::string(r.domain->loaded.from_cache ? "data cache" : r.domain->section->type) + ", " +
                         fixed(r.domain->loaded.load_seconds, 2) + "s"});
  }
  print_table({"domain", "role", "users", "items", "interactions", "density", "len min", "mean", "median", "p90",
               "max"},
              table);
  std::cout << '\n';
  print_table({"domain", "split", "train users", "train interactions", "valid cases", "test cases", "loaded from"},
              split);
  return 0;
}

// ---- RecBole atomic files ---------------------------------------------------------------------------

// A token: one tab-separated cell on one line.
std::string token(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

// One element of a token_seq cell: spaces separate elements, so they become underscores.
std::string seq_token(const std::string& s) {
  std::string out = token(s);
  std::replace(out.begin(), out.end(), ' ', '_');
  return out;
}

// The shortest text that reads back as the same value; missing (NaN) is an empty cell.
std::string number(double v) { return std::isfinite(v) ? json::number(v) : ""; }

void write_or_fail(std::ofstream& out, const std::string& path) {
  out.close();
  if (!out) throw Error("cannot write '" + path + "' (disk full?)");
}

std::ofstream open_out(const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError("cannot create '" + path + "': " + std::strerror(errno));
  return out;
}

// Side columns of items (rows 1..num_items) or users (rows 0..num_users-1) with their ids.
void write_side(const std::string& path, const char* key, const SideInfo& side, const std::vector<std::string>& ids,
                int64_t first_row, int64_t end_row) {
  std::ofstream out = open_out(path);
  out << key << ":token";
  std::vector<bool> multi;  // a categorical field with several values in some row is a token_seq column
  for (auto& f : side.categorical) {
    size_t widest = 0;
    for (auto& v : f.values) widest = std::max(widest, v.size());
    multi.push_back(widest > 1);
    out << '\t' << token(f.name) << (multi.back() ? ":token_seq" : ":token");
  }
  for (auto& f : side.numeric) out << '\t' << token(f.name) << ":float";
  for (auto& f : side.text) out << '\t' << token(f.name) << ":token_seq";
  out << '\n';
  for (int64_t r = first_row; r < end_row; ++r) {
    const auto row = static_cast<size_t>(r);
    out << token(ids.empty() ? std::to_string(r) : ids[row]);
    for (size_t c = 0; c < side.categorical.size(); ++c) {
      const CategoricalFeature& f = side.categorical[c];
      out << '\t';
      const auto& v = f.values[row];
      for (size_t k = 0; k < v.size(); ++k) {
        const auto id = static_cast<size_t>(v[k]);
        const std::string label = id < f.labels.size() && !f.labels[id].empty() ? f.labels[id] : std::to_string(v[k]);
        out << (k ? " " : "") << (multi[c] ? seq_token(label) : token(label));
      }
    }
    for (auto& f : side.numeric) out << '\t' << number(f.values[row]);
    for (auto& f : side.text) out << '\t' << token(f.values[row]);
    out << '\n';
  }
  write_or_fail(out, path);
}

int convert(const std::string& config_path, const std::vector<std::string>& overrides,
            const std::vector<std::string>& plugin_dirs, const std::string& out_dir) {
  Session s;
  open_session(s, config_path, overrides, plugin_dirs);
  std::vector<std::string> names;
  for (auto& d : s.domains) {
    const DomainData& data = d.loaded.data;
    if (std::find(names.begin(), names.end(), data.name) != names.end())
      throw InputError("two data sections are both named '" + data.name + "'; give one a `name:` so that each gets " +
                       "its own folder under " + out_dir);
    names.push_back(data.name);
    const fs::path dir = fs::path(out_dir) / data.name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw InputError("cannot create the folder '" + dir.string() + "': " + ec.message());
    const std::string stem = (dir / data.name).string();

    const bool times = !data.timestamps.empty(), ratings = !data.ratings.empty();
    std::ofstream inter = open_out(stem + ".inter");
    inter << "user_id:token\titem_id:token" << (times ? "\ttimestamp:float" : "") << (ratings ? "\trating:float" : "")
          << '\n';
    for (int64_t u = 0; u < data.num_users(); ++u) {
      const auto uu = static_cast<size_t>(u);
      const std::string user = token(data.user_ids.empty() ? std::to_string(u) : data.user_ids[uu]);
      const auto& seq = data.sequences[uu];
      for (size_t k = 0; k < seq.size(); ++k) {
        const auto item = static_cast<size_t>(seq[k]);
        inter << user << '\t' << token(data.item_ids.empty() ? std::to_string(item) : data.item_ids[item]);
        if (times) inter << '\t' << data.timestamps[uu][k];
        if (ratings) inter << '\t' << number(data.ratings[uu][k]);
        inter << '\n';
      }
    }
    write_or_fail(inter, stem + ".inter");
    std::vector<std::string> written{stem + ".inter"};
    if (!data.item_side.empty()) {
      write_side(stem + ".item", "item_id", data.item_side, data.item_ids, 1, data.num_items + 1);
      written.push_back(stem + ".item");
    }
    if (!data.user_side.empty()) {
      write_side(stem + ".user", "user_id", data.user_side, data.user_ids, 0, data.num_users());
      written.push_back(stem + ".user");
    }

    std::cout << data.name << ": " << data.num_users() << " users, " << data.num_items << " items, "
              << data.num_interactions() << " interactions ->";
    for (auto& w : written) std::cout << ' ' << w;
    std::cout << '\n';
    std::vector<std::string> text;
    for (auto* side : {&data.item_side, &data.user_side})
      for (auto& f : side->text) text.push_back(f.name);
    std::string read_back = "  read back with: {type: atomic, path: " + dir.string();
    if (!text.empty()) {
      read_back += ", text_fields: [";
      for (size_t k = 0; k < text.size(); ++k) read_back += (k ? ", " : "") + text[k];
      read_back += "]";
    }
    std::cout << read_back << "}\n";
    std::vector<std::string> lost;
    if (!data.item_features.empty() || !data.user_features.empty())
      lost.push_back("dense features (rebuilt from the side columns by the data keys, or give vector_file)");
    if (!data.fixed_negatives.empty()) lost.push_back("fixed negatives");
    if (data.given_split) lost.push_back("the dataset's own split (the full sequences are written)");
    for (auto& l : lost) std::cout << "  not in atomic files: " << l << '\n';
  }
  return 0;
}

}  // namespace

int cmd_data(const std::vector<std::string>& argv_in) {
  // --plugin-path may repeat, so collect it before the generic parser (which keeps the last value).
  std::vector<std::string> rest, plugin_dirs;
  for (size_t i = 0; i < argv_in.size(); ++i) {
    if (argv_in[i] == "--plugin-path" && i + 1 < argv_in.size())
      plugin_dirs.push_back(argv_in[++i]);
    else if (argv_in[i].rfind("--plugin-path=", 0) == 0)
      plugin_dirs.push_back(argv_in[i].substr(14));
    else
      rest.push_back(argv_in[i]);
  }
  Args args = parse("data", rest, {"out"}, {"help", "json"});
  if (args.flag("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.positional.size() < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string sub = args.positional[0], config = args.positional[1];
  std::vector<std::string> overrides;
  for (size_t i = 2; i < args.positional.size(); ++i) {
    if (args.positional[i].find('=') == std::string::npos)
      throw InputError("'" + args.positional[i] + "' is not an override (expected key.path=value)");
    overrides.push_back(args.positional[i]);
  }
  if (sub == "stats") {
    if (args.option("out")) throw InputError("data stats: --out belongs to `xrec data convert`");
    return stats(config, overrides, plugin_dirs, args.flag("json"));
  }
  if (sub == "convert") {
    if (args.flag("json")) throw InputError("data convert: --json belongs to `xrec data stats`");
    const auto out = args.option("out");
    if (!out || out->empty()) throw InputError("data convert needs --out DIR (where the atomic files go)");
    return convert(config, overrides, plugin_dirs, *out);
  }
  throw InputError("unknown data command '" + sub + "' (expected stats or convert)");
}

}  // namespace xrec::cli
