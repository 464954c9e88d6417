#include "xrec/store.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "xrec/json.hpp"
#include "xrec/api/errors.hpp"
#include "xrec/api/version.hpp"

namespace xrec {
namespace detail {
extern const char* const kSchemaSql;  // core/sql/schema.sql, compiled in (see core/CMakeLists.txt)
}

namespace {

constexpr int kBusyTimeoutMs = 10000;
#define XREC_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

struct Migration {
  int version = 0;
  std::string description;
  std::string sql;
};

// Splits the compiled-in schema at its "-- @migration N: description" markers. A malformed file is a
// build defect, so it fails loudly the first time any store opens.
std::vector<Migration> parse_migrations(const std::string& text) {
  static const std::string marker = "-- @migration ";
  std::vector<Migration> out;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.rfind(marker, 0) == 0) {
      std::string rest = line.substr(marker.size());
      size_t colon = rest.find(':');
      Migration m;
      try {
        size_t used = 0;
        m.version = std::stoi(rest.substr(0, colon), &used);
        if (colon == std::string::npos || used != colon) throw std::invalid_argument("trailing text");
      } catch (const std::exception&) {
        throw std::logic_error("core/sql/schema.sql:" + std::to_string(line_no) +
                               ": expected '-- @migration N: description', found '" + line + "'");
      }
      if (m.version != static_cast<int>(out.size()) + 1)
        throw std::logic_error("core/sql/schema.sql:" + std::to_string(line_no) + ": migration " +
                               std::to_string(m.version) + " out of order; expected " +
                               std::to_string(out.size() + 1));
      m.description = rest.substr(colon + 1);
      m.description.erase(0, m.description.find_first_not_of(' '));
      out.push_back(std::move(m));
    } else if (!out.empty()) {
      out.back().sql += line + "\n";
    }
  }
  if (out.empty()) throw std::logic_error("core/sql/schema.sql holds no '-- @migration N:' section");
  return out;
}

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = parse_migrations(detail::kSchemaSql);
  return all;
}

std::string this_host() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// Whether `pid` is a live process that could be the one that started a run at `run_started` (Unix
// seconds). A zombie is dead; a process that started after the run is a later process reusing the pid.
bool process_alive(int64_t pid, double run_started) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  // Linux only from here: without /proc, a pid that exists counts as alive.
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(stat_file, stat)) return true;
  size_t paren = stat.rfind(')');  // the command name (field 2) may hold spaces and parentheses
  if (paren == std::string::npos) return true;
  std::istringstream fields(stat.substr(paren + 1));
  std::string state, field;
  fields >> state;
  if (state == "Z" || state == "X") return false;
  // Field 22 is the start time in clock ticks after boot; fields 4..21 lie between.
  for (int i = 4; i <= 21 && fields >> field;) ++i;
  unsigned long long start_ticks = 0;
  if (!(fields >> start_ticks)) return true;
  std::ifstream proc_stat("/proc/stat");
  std::string key;
  long long boot_time = -1;
  while (proc_stat >> key) {
    if (key == "btime") {
      proc_stat >> boot_time;
      break;
    }
    proc_stat.ignore(1 << 20, '\n');
  }
  long ticks = sysconf(_SC_CLK_TCK);
  if (boot_time < 0 || ticks <= 0) return true;
  double process_started = static_cast<double>(boot_time) + static_cast<double>(start_ticks) / ticks;
  return process_started <= run_started + 2.0;  // btime has whole seconds: allow some slack
}

// Finalizes a one-off statement; cached ones belong to the Store.
struct Finalizer {
  sqlite3_stmt* stmt = nullptr;
  ~Finalizer() { sqlite3_finalize(stmt); }
};

// Leaves a cached statement ready for its next use, whatever happened.
struct Reset {
  sqlite3_stmt* stmt;
  ~Reset() {
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
  }
};

// BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a transaction never
// fails half-way for a lock; anything not committed is rolled back, and the destructor never throws.
class Transaction {
 public:
  template <class Fail>
  Transaction(sqlite3* db, Fail&& fail) : db_(db) {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      fail("cannot start a write transaction");
  }
  template <class Fail>
  void commit(Fail&& fail) {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) fail("cannot commit");
    done_ = true;
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  sqlite3* db_;
  bool done_ = false;
};

// One statement in its own short write transaction: bind, step once, commit (or roll back and fail).
template <class Fail, class Bind>
void write_one(sqlite3* db, sqlite3_stmt* s, Fail&& fail, Bind&& bind) {
  Transaction tx(db, fail);
  {
    Reset reset{s};
    bind();
    if (sqlite3_step(s) != SQLITE_DONE) fail("writing");
  }
  tx.commit(fail);
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
// Unknown optional facts are NULL, not '' (see schema.sql).
void bind_text_or_null(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty())
    sqlite3_bind_null(s, i);
  else
    bind_text(s, i, v);
}
void bind_real(sqlite3_stmt* s, int i, double v) {
  if (std::isnan(v))
    sqlite3_bind_null(s, i);  // SQLite has no NaN
  else
    sqlite3_bind_double(s, i, v);
}

void check_names(const char* what, int64_t run, const std::string& split, const std::string& key) {
  if (split.empty() || key.empty())
    throw Error(std::string(what) + "(run " + std::to_string(run) + "): the metric needs a split ('" + split +
                "') and a key ('" + key + "'), e.g. 'valid' and 'ndcg@10'");
}

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

// Denies what a read-only query must not do even though sqlite3_stmt_readonly() allows it: attaching
// files (which may create them) and transaction control (which would leave the connection locked).
int read_only_authorizer(void*, int action, const char*, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      return SQLITE_DENY;
    default:
      return SQLITE_OK;
  }
}

}  // namespace

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::Running:
      return "running";
    case RunStatus::Finished:
      return "finished";
    case RunStatus::Failed:
      return "failed";
    case RunStatus::Interrupted:
      return "interrupted";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------------
// Opening and migrating

Store::Store(const std::string& path, bool read_only) : path_(path), read_only_(read_only) {
  try {
    open();
  } catch (...) {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

int Store::latest_schema_version() { return migrations().back().version; }

void Store::open() {
  namespace fs = std::filesystem;
  const bool in_memory = path_.empty() || path_ == ":memory:";
  if (!in_memory) {
    std::error_code ec;
    if (fs::is_directory(path_, ec))
      throw InputError(path_ + " is a folder; expected the run store's SQLite file (e.g. runs/xrec.db)");
    if (read_only_ && !fs::exists(path_, ec))
      throw InputError("no store at " + path_ + " (run `xrec run CONFIG` first or pass --db)");
    fs::path parent = fs::path(path_).parent_path();
    if (!read_only_ && !parent.empty() && !fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec)
        throw Error("cannot create the folder " + parent.string() + " for the run store: " + ec.message());
    }
  }
  int flags = read_only_ ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    throw Error("cannot open the run store " + path_ + ": " + why);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  auto exec = [&](const char* sql, const char* what) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail_sqlite(what);
  };
  // The first read of the file: a file that is not SQLite fails here, named by fail_sqlite.
  exec("SELECT count(*) FROM sqlite_master", "reading the schema");
  exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (!read_only_) {
    // WAL: readers never block the writer, and writers from other processes queue on the busy timeout.
    // synchronous=NORMAL is safe against corruption in WAL mode and keeps one commit per metric cheap.
    std::string mode;
    auto got_mode = [](void* out, int, char** values, char**) {
      *static_cast<std::string*>(out) = values[0] ? values[0] : "";
      return 0;
    };
    if (sqlite3_exec(db_, "PRAGMA journal_mode", got_mode, &mode, nullptr) != SQLITE_OK)
      fail_sqlite("reading the journal mode");
    // The switch (once per file) needs an exclusive lock and SQLite does not call the busy handler for
    // it, so processes that create a store at the same moment retry here for the busy timeout.
    for (int waited_ms = 0; mode != "wal";) {
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode = WAL", got_mode, &mode, nullptr);
      if (rc == SQLITE_OK) break;
      if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= kBusyTimeoutMs) fail_sqlite("switching to WAL mode");
      const int pause_ms = 5 + static_cast<int>(getpid() % 7);  // processes started together drift apart
      usleep(static_cast<useconds_t>(pause_ms) * 1000);
      waited_ms += pause_ms;
    }
    // Diagnostics go to stderr: stdout may carry `--json` output.
    if (mode != "wal" && !in_memory)
      std::fprintf(stderr,
                   "xrec: warning: run store %s: journal mode is '%s', not 'wal' (a network file system?); "
                   "concurrent runs may wait on each other\n",
                   path_.c_str(), mode.c_str());
    exec("PRAGMA synchronous = NORMAL", "setting synchronous mode");
    migrate();
  }
  int version = schema_version();
  if (version > latest_schema_version())
    throw InputError("the run store " + path_ + " has schema version " + std::to_string(version) +
                     ", newer than this xrec knows (" + std::to_string(latest_schema_version()) +
                     "); use a newer xrec, or pass --db with another store");
  if (version == 0)
    throw InputError(path_ + " is empty: not an xrec run store (run `xrec run CONFIG` first or pass --db)");
}

int Store::schema_version() const {
  Finalizer probe;
  if (sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                         -1, &probe.stmt, nullptr) != SQLITE_OK)
    fail_sqlite("reading the schema version");
  int rc = sqlite3_step(probe.stmt);
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) fail_sqlite("reading the schema version");
  Finalizer q;
  if (sqlite3_prepare_v2(db_, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &q.stmt, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(q.stmt) != SQLITE_ROW)
    fail_sqlite("reading the schema version");
  return sqlite3_column_int(q.stmt, 0);
}

// One transaction per step, each re-reading the version under the write lock: two processes opening a
// new store at once apply every step exactly once.
void Store::migrate() {
  auto fail = [this](const std::string& what) { fail_sqlite(what); };
  const auto& steps = migrations();
  for (;;) {
    Transaction tx(db_, fail);
    int version = schema_version();
    if (version >= latest_schema_version()) {
      tx.commit(fail);
      return;  // a newer store is reported by open()
    }
    if (version == 0) {
      Finalizer tables;
      if (sqlite3_prepare_v2(db_,
                             "SELECT group_concat(name, ', ') FROM sqlite_master "
                             "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                             -1, &tables.stmt, nullptr) != SQLITE_OK ||
          sqlite3_step(tables.stmt) != SQLITE_ROW)
        fail("listing tables");
      if (sqlite3_column_type(tables.stmt, 0) != SQLITE_NULL)
        throw InputError(path_ + " is an SQLite database but not an xrec run store (it has tables " +
                         column_text(tables.stmt, 0) +
                         " and no schema_version); pass --db with another path");
    }
    const Migration& step = steps[static_cast<size_t>(version)];
    char* message = nullptr;
    if (sqlite3_exec(db_, step.sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      std::string why = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      throw Error("run store " + path_ + ": migration " + std::to_string(step.version) + " (" +
                  step.description + ") failed: " + why);
    }
    Finalizer record;
    if (sqlite3_prepare_v2(db_, "INSERT INTO schema_version (version, description) VALUES (?, ?)", -1,
                           &record.stmt, nullptr) != SQLITE_OK)
      fail("recording the schema version");
    sqlite3_bind_int(record.stmt, 1, step.version);
    bind_text(record.stmt, 2, step.description);
    if (sqlite3_step(record.stmt) != SQLITE_DONE) fail("recording the schema version");
    tx.commit(fail);
  }
}

void Store::fail_sqlite(const std::string& what) const {
  int code = db_ ? sqlite3_extended_errcode(db_) : SQLITE_NOMEM;
  std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
  switch (code & 0xff) {
    case SQLITE_NOTADB:
      throw InputError(path_ + " is not an SQLite database (" + message +
                       "); expected an xrec run store. Pass --db with another path or move the file away");
    case SQLITE_CORRUPT:
      throw InputError("the run store " + path_ + " is corrupt (" + message + ") while " + what +
                       "; restore it from a copy or pass --db with another path");
    case SQLITE_BUSY:
      throw Error("run store " + path_ + ": " + what +
                  ": another process kept the store locked (waited up to " +
                  std::to_string(kBusyTimeoutMs / 1000) + " s; " + message + ")");
    default:
      break;
  }
  if (code == SQLITE_CONSTRAINT_FOREIGNKEY) message += " (the run or sweep it refers to does not exist)";
  throw Error("run store " + path_ + ": " + what + ": " + message);
}

sqlite3_stmt* Store::statement(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK)
    fail_sqlite(std::string("preparing '") + sql + "'");
  statements_.emplace(sql, stmt);
  return stmt;
}

// ---------------------------------------------------------------------------------------------------
// Writing

int64_t Store::create_sweep(const std::string& name, const std::string& base_config_yaml,
                            const std::string& base_config_hash) {
  auto fail = [&](const std::string& what) { fail_sqlite("create_sweep('" + name + "'): " + what); };
  Transaction tx(db_, fail);
  sqlite3_stmt* s =
      statement("INSERT INTO sweeps (name, base_config_yaml, base_config_hash) VALUES (?, ?, ?)");
  Reset reset{s};
  bind_text(s, 1, name);
  bind_text(s, 2, base_config_yaml);
  bind_text(s, 3, base_config_hash);
  if (sqlite3_step(s) != SQLITE_DONE) fail("inserting the sweep");
  int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit(fail);
  return id;
}

int64_t Store::begin_run(const RunInfo& info,
                         const std::vector<std::pair<std::string, std::string>>& params) {
  if (info.name.empty()) throw Error("begin_run: the run has no name");
  auto fail = [&](const std::string& what) { fail_sqlite("begin_run('" + info.name + "'): " + what); };
  Transaction tx(db_, fail);
  sqlite3_stmt* s = statement(
      "INSERT INTO runs (sweep_id, name, host, pid, git_sha, xrec_version, torch_version, seed, threads, "
      "device,"
      " blas, command, config_yaml, config_hash, run_dir, select_metric, select_mode)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  {
    Reset reset{s};
    if (info.sweep_id)
      sqlite3_bind_int64(s, 1, *info.sweep_id);
    else
      sqlite3_bind_null(s, 1);
    bind_text(s, 2, info.name);
    bind_text(s, 3, info.host.empty() ? this_host() : info.host);
    sqlite3_bind_int64(s, 4, info.pid != 0 ? info.pid : static_cast<int64_t>(getpid()));
    bind_text_or_null(s, 5, info.git_sha);
    bind_text(s, 6, info.xrec_version.empty() ? std::string(XREC_VERSION_STRING) : info.xrec_version);
    bind_text_or_null(s, 7, info.torch_version);
    sqlite3_bind_int64(s, 8, info.seed);
    sqlite3_bind_int64(s, 9, info.threads);
    bind_text(s, 10, info.device);
    bind_text_or_null(s, 11, info.blas);
    bind_text_or_null(s, 12, info.command);
    bind_text(s, 13, info.config_yaml);
    bind_text(s, 14, info.config_hash);
    bind_text_or_null(s, 15, info.run_dir);
    bind_text_or_null(s, 16, info.select_metric);
    bind_text(s, 17, info.select_higher_is_better ? "max" : "min");
    if (sqlite3_step(s) != SQLITE_DONE) fail("inserting the run");
  }
  int64_t id = sqlite3_last_insert_rowid(db_);
  sqlite3_stmt* p = statement("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [key, value] : params) {
    Reset reset{p};
    sqlite3_bind_int64(p, 1, id);
    bind_text(p, 2, key);
    bind_text(p, 3, value);
    if (sqlite3_step(p) != SQLITE_DONE) fail("param '" + key + "'");
  }
  tx.commit(fail);
  return id;
}

void Store::log_metric(int64_t run, const std::string& stage, const std::string& split,
                       const std::string& key, int64_t step, double value) {
  check_names("log_metric", run, split, key);
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_metric(run " + std::to_string(run) + ", " + split + " " + key + " step " +
                std::to_string(step) + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO metrics (run_id, stage, split, key, step, value) VALUES (?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (run_id, stage, split, key, step)"
      " DO UPDATE SET value = excluded.value, logged_at = excluded.logged_at");
  write_one(db_, s, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, stage);
    bind_text(s, 3, split);
    bind_text(s, 4, key);
    sqlite3_bind_int64(s, 5, step);
    bind_real(s, 6, value);
  });
}

void Store::log_final(int64_t run, const std::string& split, const std::string& key, double value) {
  check_names("log_final", run, split, key);
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_final(run " + std::to_string(run) + ", " + split + " " + key + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO final_metrics (run_id, split, key, value) VALUES (?, ?, ?, ?)"
      " ON CONFLICT (run_id, split, key) DO UPDATE SET value = excluded.value");
  write_one(db_, s, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, split);
    bind_text(s, 3, key);
    bind_real(s, 4, value);
  });
}

void Store::log_case_ranks(int64_t run, const std::string& stage, const std::string& split,
                           const std::vector<CaseRank>& cases) {
  check_names("log_case_ranks", run, split, "case_ranks");
  auto fail = [&](const std::string& what) {
    fail_sqlite("log_case_ranks(run " + std::to_string(run) + ", " + stage + " " + split + "): " + what);
  };
  Transaction tx(db_, fail);
  sqlite3_stmt* del = statement("DELETE FROM case_ranks WHERE run_id = ? AND stage = ? AND split = ?");
  {
    Reset reset{del};
    sqlite3_bind_int64(del, 1, run);
    bind_text(del, 2, stage);
    bind_text(del, 3, split);
    if (sqlite3_step(del) != SQLITE_DONE) fail("deleting earlier rows");
  }
  sqlite3_stmt* ins = statement(
      "INSERT INTO case_ranks (run_id, stage, split, case_index, user, target, rank, candidates)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  for (size_t i = 0; i < cases.size(); ++i) {
    Reset reset{ins};
    sqlite3_bind_int64(ins, 1, run);
    bind_text(ins, 2, stage);
    bind_text(ins, 3, split);
    sqlite3_bind_int64(ins, 4, static_cast<int64_t>(i));
    sqlite3_bind_int64(ins, 5, cases[i].user);
    sqlite3_bind_int64(ins, 6, cases[i].target);
    sqlite3_bind_int64(ins, 7, cases[i].rank);
    sqlite3_bind_int64(ins, 8, cases[i].candidates);
    if (sqlite3_step(ins) != SQLITE_DONE) fail("writing case " + std::to_string(i));
  }
  tx.commit(fail);
}

std::vector<CaseRank> Store::case_ranks(int64_t run, const std::string& stage, const std::string& split) {
  sqlite3_stmt* s = statement(
      "SELECT user, target, rank, candidates FROM case_ranks WHERE run_id = ? AND stage = ? AND split = ?"
      " ORDER BY case_index");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  bind_text(s, 2, stage);
  bind_text(s, 3, split);
  std::vector<CaseRank> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                   sqlite3_column_int64(s, 3)});
  if (rc != SQLITE_DONE) fail_sqlite("reading case ranks of run " + std::to_string(run));
  return out;
}

std::vector<std::string> Store::case_rank_stages(int64_t run, const std::string& split) {
  sqlite3_stmt* s = statement("SELECT DISTINCT stage FROM case_ranks WHERE run_id = ? AND split = ? ORDER BY stage");
  Reset reset{s};
  sqlite3_bind_int64(s, 1, run);
  bind_text(s, 2, split);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  if (rc != SQLITE_DONE) fail_sqlite("reading case-rank stages of run " + std::to_string(run));
  return out;
}

void Store::add_plugin(int64_t run, const std::string& name, const std::string& version,
                       const std::string& path, const std::string& sha256) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("add_plugin(run " + std::to_string(run) + ", " + name + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO plugins (run_id, name, version, path, sha256) VALUES (?, ?, ?, ?, ?)"
      " ON CONFLICT (run_id, name) DO UPDATE SET version = excluded.version, path = excluded.path,"
      " sha256 = excluded.sha256");
  write_one(db_, s, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, name);
    bind_text(s, 3, version);
    bind_text(s, 4, path);
    bind_text(s, 5, sha256);
  });
}

void Store::add_artifact(int64_t run, const std::string& kind, const std::string& path, int64_t bytes) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("add_artifact(run " + std::to_string(run) + ", " + path + "): " + what);
  };
  sqlite3_stmt* s = statement(
      "INSERT INTO artifacts (run_id, kind, path, bytes) VALUES (?, ?, ?, ?)"
      " ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind, bytes = excluded.bytes,"
      " created_at = excluded.created_at");
  write_one(db_, s, fail, [&] {
    sqlite3_bind_int64(s, 1, run);
    bind_text(s, 2, kind);
    bind_text(s, 3, path);
    sqlite3_bind_int64(s, 4, bytes);
  });
}

void Store::set_run_dir(int64_t run, const std::string& dir) {
  auto fail = [&](const std::string& what) {
    fail_sqlite("set_run_dir(run " + std::to_string(run) + "): " + what);
  };
  Transaction tx(db_, fail);
  sqlite3_stmt* s = statement("UPDATE runs SET run_dir = ? WHERE id = ?");
  {
    Reset reset{s};
    bind_text_or_null(s, 1, dir);
    sqlite3_bind_int64(s, 2, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("updating");
  }
  if (sqlite3_changes(db_) == 0) throw Error("set_run_dir: no run " + std::to_string(run) + " in " + path_);
  tx.commit(fail);
}

void Store::finish_run(int64_t run, RunStatus status, const std::string& error) {
  const std::string what = "finish_run(run " + std::to_string(run) + ", " + to_string(status) + ")";
  if (status == RunStatus::Running)
    throw Error(what + ": a run closes as finished, failed or interrupted, not running");
  auto fail = [&](const std::string& why) { fail_sqlite(what + ": " + why); };
  Transaction tx(db_, fail);
  sqlite3_stmt* s = statement("UPDATE runs SET status = ?, ended_at = " XREC_NOW_SQL
                              ", error = ? WHERE id = ? AND status = 'running'");
  {
    Reset reset{s};
    bind_text(s, 1, to_string(status));
    bind_text_or_null(s, 2, error);
    sqlite3_bind_int64(s, 3, run);
    if (sqlite3_step(s) != SQLITE_DONE) fail("updating");
  }
  if (sqlite3_changes(db_) == 0) {
    sqlite3_stmt* q = statement("SELECT status FROM runs WHERE id = ?");
    Reset reset{q};
    sqlite3_bind_int64(q, 1, run);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) throw Error(what + ": the run is already closed as '" + column_text(q, 0) + "'");
    if (rc != SQLITE_DONE) fail("reading the run");
    throw Error(what + ": no run " + std::to_string(run) + " in " + path_);
  }
  tx.commit(fail);
}

int Store::reconcile_stale_runs() {
  if (read_only_) throw Error("reconcile_stale_runs: the store " + path_ + " was opened read-only");
  auto fail = [this](const std::string& what) { fail_sqlite("reconcile_stale_runs: " + what); };
  const std::string host = this_host();
  Transaction tx(db_, fail);
  struct Stale {
    int64_t id, pid;
  };
  std::vector<Stale> stale;
  {
    sqlite3_stmt* s = statement(
        "SELECT id, pid, (julianday(started_at) - 2440587.5) * 86400.0 FROM runs"
        " WHERE status = 'running' AND host = ?");
    Reset reset{s};
    bind_text(s, 1, host);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      int64_t pid = sqlite3_column_int64(s, 1);
      if (!process_alive(pid, sqlite3_column_double(s, 2)))
        stale.push_back({sqlite3_column_int64(s, 0), pid});
    }
    if (rc != SQLITE_DONE) fail("listing running runs");
  }
  // The process died at some unknown time: the run's last write to the store is the best end time.
  sqlite3_stmt* u = statement(
      "UPDATE runs SET status = 'interrupted',"
      " ended_at = max(started_at,"
      "   coalesce((SELECT max(logged_at) FROM metrics WHERE run_id = runs.id), started_at),"
      "   coalesce((SELECT max(created_at) FROM artifacts WHERE run_id = runs.id), started_at)),"
      " error = ? || " XREC_NOW_SQL
      " || '; ended_at is its last write to the store)'"
      " WHERE id = ? AND status = 'running'");
  for (const Stale& run : stale) {
    Reset reset{u};
    bind_text(u, 1,
              "process " + std::to_string(run.pid) + " on host " + host +
                  " ended without closing the run (noticed at ");
    sqlite3_bind_int64(u, 2, run.id);
    if (sqlite3_step(u) != SQLITE_DONE) fail("closing run " + std::to_string(run.id));
  }
  tx.commit(fail);
  return static_cast<int>(stale.size());
}

// ---------------------------------------------------------------------------------------------------
// Reading

QueryResult Store::query(const std::string& sql, bool read_only) const {
  if (!read_only && read_only_)
    throw Error("query: the store " + path_ + " was opened read-only; a writing query needs --write");
  if (read_only) sqlite3_set_authorizer(db_, read_only_authorizer, nullptr);
  Finalizer stmt;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt.stmt, &tail);
  if (read_only) sqlite3_set_authorizer(db_, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = sqlite3_errmsg(db_);
    if ((sqlite3_extended_errcode(db_) & 0xff) == SQLITE_AUTH)
      why = "attaching databases and transaction control are not allowed in a read-only query";
    else if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
      fail_sqlite("query");
    throw InputError("query: " + why + " in: " + shorten(sql, 200));
  }
  if (!stmt.stmt) throw InputError("query: no SQL statement given");
  // Anything after the first statement must be whitespace or comments (which prepare to no statement).
  if (tail && *tail) {
    Finalizer next;
    int next_rc = sqlite3_prepare_v2(db_, tail, -1, &next.stmt, nullptr);
    if (next_rc != SQLITE_OK || next.stmt) {
      std::string rest = tail;
      rest.erase(0, rest.find_first_not_of(" \t\r\n"));
      throw InputError("query: only one SQL statement is allowed; found more after the first: '" +
                       shorten(rest, 60) + "'");
    }
  }
  const bool writes = !sqlite3_stmt_readonly(stmt.stmt);
  if (read_only && writes)
    throw InputError("query: the statement writes to the store (" + shorten(sql, 80) +
                     "); queries are read-only unless --write is given");

  QueryResult result;
  const int columns = sqlite3_column_count(stmt.stmt);
  for (int c = 0; c < columns; ++c) {
    const char* name = sqlite3_column_name(stmt.stmt, c);
    result.columns.push_back(name ? name : "");
  }
  while ((rc = sqlite3_step(stmt.stmt)) == SQLITE_ROW) {
    auto& row = result.rows.emplace_back();
    auto& types = result.types.emplace_back();
    row.reserve(static_cast<size_t>(columns));
    types.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt.stmt, c)) {
        case SQLITE_NULL:
          row.emplace_back(std::nullopt);
          types.push_back(SqlType::Null);
          break;
        case SQLITE_INTEGER:
          row.emplace_back(column_text(stmt.stmt, c));
          types.push_back(SqlType::Integer);
          break;
        case SQLITE_FLOAT:
          row.emplace_back(column_text(stmt.stmt, c));  // SQLite's "%!.15g": 0.1, 1.0, 0.333333333333333
          types.push_back(SqlType::Real);
          break;
        case SQLITE_BLOB: {
          const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(stmt.stmt, c));
          int size = sqlite3_column_bytes(stmt.stmt, c);
          std::string hex = "X'";
          static const char* digits = "0123456789ABCDEF";
          for (int i = 0; i < size; ++i) {
            hex.push_back(digits[bytes[i] >> 4]);
            hex.push_back(digits[bytes[i] & 0xf]);
          }
          row.emplace_back(hex + "'");
          types.push_back(SqlType::Blob);
          break;
        }
        default:
          row.emplace_back(column_text(stmt.stmt, c));
          types.push_back(SqlType::Text);
          break;
      }
    }
  }
  if (rc != SQLITE_DONE) fail_sqlite("query '" + shorten(sql, 80) + "'");
  if (writes) result.changes = sqlite3_changes64(db_);
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Output formats for query results

std::string to_csv(const QueryResult& result) {
  auto field = [](const std::string& v) {
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string quoted = "\"";
    for (char ch : v) {
      if (ch == '"') quoted += '"';
      quoted += ch;
    }
    return quoted + "\"";
  };
  std::string out;
  for (size_t c = 0; c < result.columns.size(); ++c) out += (c ? "," : "") + field(result.columns[c]);
  out += "\r\n";
  for (const auto& row : result.rows) {
    for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + (row[c] ? field(*row[c]) : std::string());
    out += "\r\n";
  }
  return out;
}

std::string to_json(const QueryResult& result) {
  std::string out = "[";
  for (size_t r = 0; r < result.rows.size(); ++r) {
    out += r ? ",\n  {" : "\n  {";
    const auto& row = result.rows[r];
    for (size_t c = 0; c < row.size() && c < result.columns.size(); ++c) {
      out += (c ? ", " : "") + json::quote(result.columns[c]) + ": ";
      SqlType type =
          r < result.types.size() && c < result.types[r].size() ? result.types[r][c] : SqlType::Text;
      if (!row[c] || type == SqlType::Null) {
        out += "null";
      } else if (type == SqlType::Integer) {
        out += *row[c];
      } else if (type == SqlType::Real) {
        // SQLite prints infinities as Inf/-Inf, which JSON cannot hold.
        out += row[c]->find("Inf") == std::string::npos ? *row[c] : "null";
      } else {
        out += json::quote(*row[c]);
      }
    }
    out += "}";
  }
  out += result.rows.empty() ? "]\n" : "\n]\n";
  return out;
}

// ---------------------------------------------------------------------------------------------------

RunScope::~RunScope() {
  if (closed_) return;
  try {
    std::string why = "run scope left without finish()";
    if (std::uncaught_exceptions() > exceptions_) why += " while an exception was propagating";
    store_.finish_run(run_, RunStatus::Failed, why);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xrec: error: run %lld: could not close the run in the store: %s\n",
                 static_cast<long long>(run_), e.what());
  } catch (...) {
    std::fprintf(stderr, "xrec: error: run %lld: could not close the run in the store\n",
                 static_cast<long long>(run_));
  }
}

void RunScope::finish() {
  store_.finish_run(run_, RunStatus::Finished);
  closed_ = true;
}

void RunScope::fail(RunStatus status, const std::string& error) {
  store_.finish_run(run_, status, error);
  closed_ = true;
}

#undef XREC_NOW_SQL

}  // namespace xrec
