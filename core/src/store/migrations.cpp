// The run store: opening a file, and bringing it to the schema in core/sql/schema.sql.
#include "xrec/store.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "internal.hpp"

namespace xrec {
namespace detail {
extern const char* const kSchemaSql;  // core/sql/schema.sql, compiled in (see core/CMakeLists.txt)
}

using namespace store_detail;

namespace {

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

Store::Store(const std::string& path, bool read_only)
    : path_(path), read_only_(read_only), busy_timeout_ms_(kBusyTimeoutMs), write_patience_ms_(kBusyTimeoutMs) {
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
  if (!pending_.empty()) {
    try {
      write_pending_metrics(/*patient=*/true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "xrec: error: run store %s: %zu metric value(s) could not be written: %s\n",
                   path_.c_str(), pending_.size(), e.what());
    }
  }
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

int Store::latest_schema_version() { return migrations().back().version; }

void Store::set_busy_timeout(std::chrono::milliseconds timeout) {
  busy_timeout_ms_ = static_cast<int>(std::max<int64_t>(0, timeout.count()));
  sqlite3_busy_timeout(db_, busy_timeout_ms_);
}

void Store::set_write_patience(std::chrono::milliseconds patience) {
  write_patience_ms_ = std::max<int64_t>(0, patience.count());
}

namespace {
// A path as an SQLite URI path: '?', '#' and '%' would end or escape it.
std::string uri_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}
}  // namespace

// A read-only store whose folder cannot take the WAL's shared-memory file (a read-only file system, a
// snapshot) is opened as immutable: SQLite then reads the main file only, without locks.
void Store::open_immutable() {
  sqlite3_close(db_);
  db_ = nullptr;
  const std::string uri = "file:" + uri_path(std::filesystem::absolute(path_).string()) + "?immutable=1";
  if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    throw Error("cannot open the run store " + path_ + " read-only: " + why);
  }
  sqlite3_extended_result_codes(db_, 1);
  std::error_code ec;
  const auto wal_bytes = std::filesystem::file_size(path_ + "-wal", ec);
  std::fprintf(stderr,
               "xrec: warning: run store %s: its folder is not writable, so it is read without locks%s\n",
               path_.c_str(),
               !ec && wal_bytes > 0 ? "; changes still in its write-ahead log (-wal) are not seen" : "");
}

// Called before anything could change the file: another application's SQLite database is refused while it
// is still untouched (before the switch to WAL mode, which would rewrite its header and leave -wal/-shm).
void Store::refuse_foreign_database() const {
  Finalizer tables;
  if (sqlite3_prepare_v2(db_,
                         "SELECT group_concat(name, ', '), sum(name = 'schema_version') FROM sqlite_master "
                         "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                         -1, &tables.stmt, nullptr) != SQLITE_OK ||
      sqlite3_step(tables.stmt) != SQLITE_ROW)
    fail_sqlite("listing tables");
  if (sqlite3_column_type(tables.stmt, 0) != SQLITE_NULL && sqlite3_column_int(tables.stmt, 1) == 0)
    throw InputError(path_ + " is an SQLite database but not an xrec run store (it has tables " +
                     column_text(tables.stmt, 0) + " and no schema_version); pass --db with another path");
}

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
  if (sqlite3_exec(db_, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) != SQLITE_OK) {
    const int code = sqlite3_extended_errcode(db_) & 0xff;
    // Read-only, a WAL store needs its -shm file; where the folder cannot take one, read it immutable.
    if (!(read_only_ && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY))) fail_sqlite("reading the schema");
    open_immutable();
    exec("SELECT count(*) FROM sqlite_master", "reading the schema");
  }
  exec("PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (!read_only_) {
    refuse_foreign_database();
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
    Transaction tx(db_, fail, write_patience_ms_);
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

}  // namespace xrec
