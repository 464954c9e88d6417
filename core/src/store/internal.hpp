#pragma once
// Shared by core/src/store/*.cpp only (not installed): statement helpers, transactions, binding.
#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "xrec/api/errors.hpp"
#include "xrec/store.hpp"

namespace xrec::store_detail {

constexpr int kBusyTimeoutMs = 10000;
#define XREC_NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

// The host name runs are recorded under (liveness.cpp).
std::string this_host();
// Whether `pid` is a live process that could be the one that started something at `started` (Unix
// seconds) (liveness.cpp).
bool process_alive(int64_t pid, double started);

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
// With a patience beyond the busy timeout it keeps retrying, with backoff, while another process holds the
// lock: a run's writes outlast a long `sqlite3` session or a VACUUM on the same store.
class Transaction {
 public:
  template <class Fail>
  Transaction(sqlite3* db, Fail&& fail, int64_t patience_ms = 0) : db_(db) {
    int64_t waited_ms = 0;
    for (int pause_ms = 50;; pause_ms = std::min(pause_ms * 2, 2000)) {
      const int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) return;
      if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= patience_ms) fail("cannot start a write transaction");
      usleep(static_cast<useconds_t>(pause_ms) * 1000);
      waited_ms += pause_ms;
    }
  }
  // Wraps a transaction the caller began itself (commit or roll back as above).
  struct AlreadyBegun {};
  Transaction(sqlite3* db, AlreadyBegun) : db_(db) {}
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
inline void write_one(sqlite3* db, sqlite3_stmt* s, int64_t patience_ms, Fail&& fail, Bind&& bind) {
  Transaction tx(db, fail, patience_ms);
  {
    Reset reset{s};
    bind();
    if (sqlite3_step(s) != SQLITE_DONE) fail("writing");
  }
  tx.commit(fail);
}

inline void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
// Unknown optional facts are NULL, not '' (see schema.sql).
inline void bind_text_or_null(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty())
    sqlite3_bind_null(s, i);
  else
    bind_text(s, i, v);
}
inline void bind_real(sqlite3_stmt* s, int i, double v) {
  if (std::isnan(v))
    sqlite3_bind_null(s, i);  // SQLite has no NaN
  else
    sqlite3_bind_double(s, i, v);
}

inline void check_names(const char* what, int64_t run, const std::string& split, const std::string& key) {
  if (split.empty() || key.empty())
    throw Error(std::string(what) + "(run " + std::to_string(run) + "): the metric needs a split ('" + split +
                "') and a key ('" + key + "'), e.g. 'valid' and 'ndcg@10'");
}

inline std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

inline std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n - 3) + "..."; }

}  // namespace xrec::store_detail
