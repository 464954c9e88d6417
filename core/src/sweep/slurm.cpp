#include "xrec/sweep/slurm.hpp"

#include <yaml-cpp/yaml.h>

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/store.hpp"

namespace xrec::sweep {

namespace fs = std::filesystem;

std::string array_ranges(std::vector<size_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::string shard_path(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "shards" / ("trial-" + key.substr(0, 16) + ".db")).string();
}

namespace {

// Single quotes for a POSIX shell.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw Error("cannot write " + path.string());
}

}  // namespace

std::vector<size_t> emit_slurm(const Plan& plan, const Options& options, const SlurmOptions& slurm,
                               const std::string& dir_arg) {
  const fs::path dir = fs::absolute(dir_arg);
  std::error_code ec;
  fs::create_directories(dir / "shards", ec);
  fs::create_directories(dir / "logs", ec);
  if (ec) throw InputError("--emit slurm " + dir_arg + ": cannot create the folder: " + ec.message());
  const Spec& spec = plan.spec;
  std::string base = spec.base_path.empty() ? "" : fs::absolute(spec.base_path).string();
  if (!spec.base_inline.empty()) {
    base = (dir / "base.yaml").string();
    write_file(base, spec.base_inline);
  }
  const std::string name = options.name.empty() ? spec.name : options.name;
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(spec.threads);

  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "name" << YAML::Value << name;
  y << YAML::Key << "base" << YAML::Value << base;
  y << YAML::Key << "spec" << YAML::Value << YAML::Literal << spec.text;
  y << YAML::Key << "select_metric" << YAML::Value << plan.select_metric;
  y << YAML::Key << "select_mode" << YAML::Value << (plan.higher_is_better ? "max" : "min");
  y << YAML::Key << "threads" << YAML::Value << threads;
  y << YAML::Key << "timeout" << YAML::Value << (options.timeout_s > 0 ? options.timeout_s : spec.timeout_s);
  y << YAML::Key << "plugin_paths" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : options.plugin_dirs) y << fs::absolute(d).string();
  y << YAML::EndSeq;
  y << YAML::Key << "trials" << YAML::Value << YAML::BeginSeq;
  std::vector<size_t> ids;
  for (size_t i = 0; i < plan.trials.size(); ++i) {
    const TrialPlan& t = plan.trials[i];
    if (t.run) ids.push_back(i);
    y << YAML::BeginMap;
    y << YAML::Key << "task" << YAML::Value << i;
    y << YAML::Key << "key" << YAML::Value << t.record.key;
    y << YAML::Key << "point" << YAML::Value << t.record.point;
    y << YAML::Key << "label" << YAML::Value << t.record.point_label;
    y << YAML::Key << "seed" << YAML::Value << t.record.seed;
    y << YAML::Key << "config_hash" << YAML::Value << t.record.config_hash;
    y << YAML::Key << "plugins_sha" << YAML::Value << t.record.plugins_sha;
    y << YAML::Key << "plugins" << YAML::Value << t.record.plugins;
    y << YAML::Key << "overrides" << YAML::Value << YAML::BeginSeq;
    for (const auto& o : t.overrides) y << o;
    y << YAML::EndSeq << YAML::EndMap;
  }
  y << YAML::EndSeq << YAML::EndMap;
  write_file(dir / "plan.yaml", std::string("# written by xrec sweep --emit slurm; array task i runs trials[i]\n") +
                                    y.c_str() + "\n");

  std::ostringstream job;
  job << "#!/bin/bash\n"
      << "# xrec sweep '" << name << "': one array task per trial (DIR/plan.yaml), each into its own shard\n"
      << "# under shards/. Submit: sbatch job.sh; fold the results in: xrec merge " << (dir / "shards").string()
      << " --db MAIN\n";
  job << "#SBATCH --job-name=" << (slurm.job_name.empty() ? "xrec-" + name : slurm.job_name) << "\n";
  if (!ids.empty())
    job << "#SBATCH --array=" << array_ranges(ids)
        << (slurm.array_parallelism > 0 ? "%" + std::to_string(slurm.array_parallelism) : std::string()) << "\n";
  job << "#SBATCH --output=" << (dir / "logs" / "task-%a-%A.out").string() << "\n";
  job << "#SBATCH --ntasks=1\n";
  const int cpus = slurm.cpus_per_task > 0 ? slurm.cpus_per_task : std::max(1, threads);
  job << "#SBATCH --cpus-per-task=" << cpus << "\n";
  if (!slurm.partition.empty()) job << "#SBATCH --partition=" << slurm.partition << "\n";
  if (!slurm.time.empty()) job << "#SBATCH --time=" << slurm.time << "\n";
  if (!slurm.mem.empty()) job << "#SBATCH --mem=" << slurm.mem << "\n";
  job << "set -u\n"
      << "exec " << shell_quote(options.xrec_binary) << " sweep --task " << shell_quote(dir.string())
      << " \"$SLURM_ARRAY_TASK_ID\"\n";
  write_file(dir / "job.sh", job.str());
  fs::permissions(dir / "job.sh", fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add, ec);
  return ids;
}

int run_slurm_task(const std::string& dir, size_t index, const std::string& xrec_binary) {
  const fs::path plan_file = fs::path(dir) / "plan.yaml";
  YAML::Node root;
  try {
    root = YAML::LoadFile(plan_file.string());
  } catch (const YAML::Exception& e) {
    throw InputError("sweep --task: cannot read " + plan_file.string() + ": " + e.what() +
                     " (written by `xrec sweep SPEC --emit slurm DIR`)");
  }
  const YAML::Node trials = root["trials"];
  if (!trials || !trials.IsSequence() || index >= trials.size())
    throw InputError("sweep --task: " + plan_file.string() + " has " +
                     std::to_string(trials && trials.IsSequence() ? trials.size() : 0) + " trial(s); no task " +
                     std::to_string(index));
  Plan plan;
  plan.spec.name = root["name"].as<std::string>();
  plan.spec.base_path = root["base"].as<std::string>();
  plan.spec.text = root["spec"].as<std::string>("");
  plan.spec.timeout_s = root["timeout"].as<double>(0);
  plan.select_metric = root["select_metric"].as<std::string>("ndcg@10");
  plan.higher_is_better = root["select_mode"].as<std::string>("max") != "min";
  for (size_t i = 0; i < trials.size(); ++i) {
    const YAML::Node t = trials[i];
    TrialPlan tp;
    tp.record.key = t["key"].as<std::string>();
    tp.record.point = t["point"].as<int64_t>();
    tp.record.point_label = t["label"].as<std::string>("");
    tp.record.seed = t["seed"].as<int64_t>();
    tp.record.config_hash = t["config_hash"].as<std::string>();
    tp.record.plugins_sha = t["plugins_sha"].as<std::string>();
    tp.record.plugins = t["plugins"].as<std::string>("");
    for (const auto& o : t["overrides"]) tp.overrides.push_back(o.as<std::string>());
    tp.run = i == index;
    plan.trials.push_back(std::move(tp));
  }
  Options opt;
  opt.name = plan.spec.name;
  opt.jobs = 1;
  opt.threads = root["threads"].as<int>(0);
  if (opt.threads <= 0) {
    const char* cpus = std::getenv("SLURM_CPUS_PER_TASK");
    opt.threads = cpus ? std::max(1, std::atoi(cpus)) : 1;
  }
  for (const auto& d : root["plugin_paths"]) opt.plugin_dirs.push_back(d.as<std::string>());
  opt.xrec_binary = xrec_binary;
  opt.db_path = shard_path(dir, plan.trials[index].record.key);
  // The shard's sweep row lists every trial (as pending) so a merge of any shard names the whole sweep;
  // its attempts accumulate over resubmissions because the shard is per trial.
  Store store(opt.db_path);
  if (auto s = store.find_sweep(opt.name))
    for (const auto& t : store.trials(s->id))
      if (t.key == plan.trials[index].record.key) plan.trials[index].record.attempts = t.attempts;
  Summary summary = execute(plan, store, opt);
  if (summary.stopped || summary.interrupted > 0) return 130;
  return summary.failed > 0 ? 1 : 0;
}

std::string capture(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = pclose(p);
  if (status) *status = (rc != -1 && WIFEXITED(rc)) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::string slurm_submit(const std::string& dir) {
  int status = 0;
  capture("command -v sbatch >/dev/null 2>&1", &status);
  if (status != 0)
    throw InputError("--slurm: sbatch is not on the PATH (not a Slurm login node?); use --emit slurm DIR and "
                     "submit DIR/job.sh where Slurm is");
  const std::string job = (fs::absolute(dir) / "job.sh").string();
  std::string out = capture("sbatch --parsable " + shell_quote(job) + " 2>&1", &status);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (status != 0) throw InputError("--slurm: sbatch refused " + job + ": " + out);
  // --parsable prints "jobid" or "jobid;cluster" (after any warnings on earlier lines).
  std::string last = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  last = last.substr(0, last.find(';'));
  if (last.empty() || last.find_first_not_of("0123456789") != std::string::npos)
    throw Error("--slurm: cannot read the job id from sbatch's output: " + out);
  return last;
}

void slurm_follow(const std::string& job_id, double poll_seconds, const std::function<void(int)>& progress) {
  int last = -1, errors = 0;
  for (;;) {
    int status = 0;
    const std::string out = capture("squeue -h -r -j " + job_id + " -o %i 2>&1", &status);
    int left = 0;
    if (status == 0) {
      errors = 0;
      for (char c : out) left += c == '\n';
    } else if (out.find("Invalid job id") != std::string::npos) {
      left = 0;  // gone from the controller's memory: ended
    } else if (++errors >= 5) {
      throw Error("--slurm: squeue failed 5 times in a row following job " + job_id + ": " + out);
    } else {
      left = last;
    }
    if (left != last && progress) progress(left);
    if (left == 0) return;
    last = left;
    std::this_thread::sleep_for(std::chrono::duration<double>(poll_seconds));
  }
}

}  // namespace xrec::sweep
