// Sweep planning: validation of every trial before anything runs, trial keys, select mode, and what a
// resumed sweep runs again (finished skipped, failed retried up to a cap, interrupted re-queued, changed
// plugins re-run). Also the store's sweep tables these decisions read.
#include "xrec/sweep/runner.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "support/expect_error.hpp"
#include "support/temp_dir.hpp"
#include "xrec/config.hpp"
#include "xrec/sha256.hpp"

using namespace xrec;
using namespace xrec::sweep;
using xrec::test::expect_input_error;

namespace {

Spec lr_spec() { return parse_spec("base: {seed: 1}\ngrid:\n  train.lr: [0.1, 0.01]\nseeds: [1, 2]\n", "s.yaml"); }

// A stand-in for the real validator: the "config hash" is the overrides joined; lr 0.5 is invalid.
struct FakeValidator {
  std::string plugin_sha = "aaa";
  PointCheck operator()(const Spec&, const std::vector<std::string>& overrides) const {
    std::string joined;
    for (auto& o : overrides) {
      if (o == "train.lr=0.5") throw ConfigError("<command line>: train.lr: 0.5 is out of range; expected [0, 0.2]");
      joined += o + ";";
    }
    return {sha256_hex(joined), {{"sasrec", plugin_sha}, {"scratch", "bbb"}}, "ndcg@10"};
  }
};

Options opts() {
  Options o;
  o.name = "s";
  return o;
}

}  // namespace

TEST(SweepPlan, KeysEveryTrialAndRunsAllOnAFreshStore) {
  Plan plan = make_plan(lr_spec(), FakeValidator{}, nullptr, opts());
  ASSERT_EQ(plan.trials.size(), 4u);
  EXPECT_EQ(plan.to_run(), 4);
  EXPECT_EQ(plan.select_metric, "ndcg@10");
  EXPECT_TRUE(plan.higher_is_better);
  EXPECT_EQ(plan.trials[1].overrides, (std::vector<std::string>{"train.lr=0.1", "seed=2"}));
  EXPECT_EQ(plan.trials[1].record.seed, 2);
  EXPECT_EQ(plan.trials[1].record.point_label, "train.lr=0.1");
  const auto& r = plan.trials[0].record;
  EXPECT_EQ(r.key, trial_key(r.config_hash, r.plugins_sha));
  EXPECT_EQ(r.plugins, "sasrec:aaa\nscratch:bbb\n");
  std::set<std::string> keys;
  for (auto& t : plan.trials) keys.insert(t.record.key);
  EXPECT_EQ(keys.size(), 4u);
}

TEST(SweepPlan, KeyDependsOnConfigAndPluginsNotOnPluginOrder) {
  EXPECT_EQ(plugins_digest({{"a", "1"}, {"b", "2"}}), plugins_digest({{"b", "2"}, {"a", "1"}}));
  EXPECT_NE(plugins_digest({{"a", "1"}, {"b", "2"}}), plugins_digest({{"a", "1"}, {"b", "3"}}));
  EXPECT_NE(trial_key("h1", "p"), trial_key("h2", "p"));
  EXPECT_NE(trial_key("h", "p1"), trial_key("h", "p2"));
  EXPECT_EQ(trial_key("h", "p").size(), 64u);
}

TEST(SweepPlan, InvalidPointsAreAllReportedWithPointAndKey) {
  Spec s = parse_spec("base: {seed: 1}\ngrid:\n  train.lr: [0.1, 0.5]\n  train.epochs: [1, 2]\n", "s.yaml");
  expect_input_error([&] { make_plan(s, FakeValidator{}, nullptr, opts()); },
                     {"2 invalid point(s)", "point 2 (train.lr=0.5 train.epochs=1)",
                      "point 3 (train.lr=0.5 train.epochs=2)", "train.lr: 0.5 is out of range", "nothing was run"});
}

TEST(SweepPlan, SelectModeDefaultsToTheMetricsDirectionAndAContradictionIsAnError) {
  Spec s = lr_spec();
  s.select_metric = "logloss";
  EXPECT_FALSE(make_plan(s, FakeValidator{}, nullptr, opts()).higher_is_better);
  s.select_mode = "max";
  expect_input_error([&] { make_plan(s, FakeValidator{}, nullptr, opts()); },
                     {"s.yaml", "select.mode 'max' contradicts the metric logloss", "minimised"});
  s.select_metric = "hr@10";
  EXPECT_TRUE(make_plan(s, FakeValidator{}, nullptr, opts()).higher_is_better);
}

TEST(SweepPlan, ResumeSkipsFinishedRetriesFailedRequeuesInterruptedAndRerunsChangedPlugins) {
  xrec::test::TempDir dir("plan");
  Store store(dir.file("x.db"));
  Plan first = make_plan(lr_spec(), FakeValidator{}, &store, opts());
  const int64_t sweep = store.open_sweep("s", "spec", "base", "hash", "ndcg@10", true);
  std::vector<TrialRecord> records;
  for (auto& t : first.trials) records.push_back(t.record);
  EXPECT_EQ(store.add_trials(sweep, records), 4);
  EXPECT_EQ(store.add_trials(sweep, records), 0);  // already there
  const auto& k = first.trials;
  for (int i = 0; i < 4; ++i) store.trial_started(sweep, k[static_cast<size_t>(i)].record.key, 100 + i);
  store.trial_ended(sweep, k[0].record.key, RunStatus::Finished);
  store.trial_ended(sweep, k[1].record.key, RunStatus::Failed, "killed by signal 11 (SIGSEGV)");
  store.trial_ended(sweep, k[2].record.key, RunStatus::Interrupted);
  // k[3] stays 'running': its driver (this process) is gone when the sweep is opened by another one.
  store.close_sweep(sweep, RunStatus::Interrupted);

  Plan again = make_plan(lr_spec(), FakeValidator{}, &store, opts());
  EXPECT_EQ(again.sweep_id, sweep);
  EXPECT_FALSE(again.trials[0].run);
  EXPECT_NE(again.trials[0].why.find("finished"), std::string::npos);
  EXPECT_TRUE(again.trials[1].run);  // failed once: retried (cap 3)
  EXPECT_TRUE(again.trials[2].run);  // interrupted
  EXPECT_TRUE(again.trials[3].run);  // 'running' in the store: re-queued when the sweep reopens

  Options capped = opts();
  capped.max_retries = 1;
  EXPECT_FALSE(make_plan(lr_spec(), FakeValidator{}, &store, capped).trials[1].run);
  capped.retry_failed = true;
  EXPECT_TRUE(make_plan(lr_spec(), FakeValidator{}, &store, capped).trials[1].run);

  Options missing = opts();
  missing.only_missing = true;
  Plan only = make_plan(lr_spec(), FakeValidator{}, &store, missing);
  EXPECT_EQ(only.to_run(), 0);  // every trial was attempted once

  // A changed plugin: every trial is new, and the note names the plugin.
  FakeValidator changed;
  changed.plugin_sha = "ccc";
  Plan rebuilt = make_plan(lr_spec(), changed, &store, opts());
  EXPECT_EQ(rebuilt.to_run(), 4);
  ASSERT_EQ(rebuilt.notes.size(), 1u);
  EXPECT_NE(rebuilt.notes[0].find("plugin sasrec changed"), std::string::npos) << rebuilt.notes[0];
  EXPECT_EQ(rebuilt.trials[0].why, "plugin changed");

  // An added seed extends the same sweep: only its trials are new.
  Spec more = lr_spec();
  more.seeds.push_back(3);
  Plan extended = make_plan(more, FakeValidator{}, &store, opts());
  EXPECT_EQ(extended.trials.size(), 6u);
  int fresh = 0;
  for (auto& t : extended.trials) fresh += t.why == "new";
  EXPECT_EQ(fresh, 2);

  // A spec that drops trials keeps them (and their runs) but leaves them out of the views.
  EXPECT_EQ(store.add_trials(sweep, {records[0]}), 0);
  EXPECT_EQ(store.query("SELECT count(*) FROM trials").rows[0][0].value_or(""), "4");
  EXPECT_EQ(store.query("SELECT count(*) FROM sweep_trials").rows[0][0].value_or(""), "1");
  EXPECT_EQ(store.query("SELECT count(*) FROM sweep_points").rows[0][0].value_or(""), "1");
  EXPECT_EQ(store.add_trials(sweep, records), 0);
  EXPECT_EQ(store.query("SELECT count(*) FROM sweep_trials").rows[0][0].value_or(""), "4");
}

TEST(SweepStore, OpeningASweepTakesOverFromAVanishedDriverAndRequeuesItsTrials) {
  xrec::test::TempDir dir("takeover");
  const std::string db = dir.file("x.db");
  Plan plan = make_plan(lr_spec(), FakeValidator{}, nullptr, opts());
  // A child process opens the sweep, starts a trial and dies without closing anything.
  pid_t child = fork();
  if (child == 0) {
    try {
      Store s(db);
      int64_t id = s.open_sweep("s", "spec", "base", "hash", "ndcg@10", true);
      s.add_trials(id, {plan.trials[0].record});
      s.trial_started(id, plan.trials[0].record.key, 4242);
    } catch (...) {
      _exit(1);
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  Store store(db);
  EXPECT_EQ(store.query("SELECT status FROM sweeps").rows[0][0].value_or(""), "running");
  const int64_t id = store.open_sweep("s", "spec2", "base", "hash", "ndcg@10", true);
  auto trials = store.trials(id);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].status, "interrupted");
  EXPECT_EQ(trials[0].attempts, 1);
  EXPECT_NE(trials[0].error.find("driver vanished"), std::string::npos);
  EXPECT_EQ(store.query("SELECT driver_pid FROM sweeps").rows[0][0].value_or(""), std::to_string(getpid()));
  EXPECT_EQ(store.query("SELECT spec_yaml FROM sweeps").rows[0][0].value_or(""), "spec2");
}

TEST(SweepStore, ALiveDriverKeepsItsSweep) {
  xrec::test::TempDir dir("live");
  const std::string db = dir.file("x.db");
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  if (child == 0) {
    Store s(db);
    s.open_sweep("busy", "spec", "base", "hash", "ndcg@10", true);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    (void)!read(go[0], &c, 1);  // stays alive until the parent is done
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  {
    Store store(db);
    expect_input_error([&] { store.open_sweep("busy", "spec", "base", "hash", "ndcg@10", true); },
                       {"sweep 'busy'", "is being run by process " + std::to_string(child)});
  }
  (void)!write(go[1], &c, 1);
  int status = 0;
  waitpid(child, &status, 0);
}

TEST(SweepRunner, SignalsAndLogTailsForErrorMessages) {
  EXPECT_EQ(describe_signal(SIGSEGV), "killed by signal 11 (SIGSEGV)");
  EXPECT_NE(describe_signal(SIGKILL).find("out of memory"), std::string::npos);
  xrec::test::TempDir dir("tail");
  std::string text;
  for (int i = 1; i <= 30; ++i) text += "line " + std::to_string(i) + "\n";
  const std::string path = dir.write("log.txt", text);
  EXPECT_EQ(file_tail(path, 3), "line 28\nline 29\nline 30");
  EXPECT_EQ(file_tail(path, 3, 10), "...29\nline 30");  // the last 10 bytes
  EXPECT_EQ(file_tail(dir.file("absent.txt")), "");
  EXPECT_EQ(file_tail(dir.write("empty.txt", "")), "");  // a trial killed before it wrote anything
  EXPECT_EQ(file_tail(dir.write("short.txt", "one\ntwo\n"), 20), "one\ntwo");
  EXPECT_EQ(file_tail(dir.write("no-newline.txt", "only"), 20), "only");
}
