#include "xrec/engine/stage_cache.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "xrec/api/errors.hpp"
#include "xrec/engine/run_recorder.hpp"
#include "xrec/sha256.hpp"

namespace fs = std::filesystem;

namespace xrec::engine {

namespace {
std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::optional<std::string> unhex(const std::string& text) {
  if (text.size() % 2) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = value(text[2 * i]), lo = value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// A temporary name beside `path`, unique to this process and call.
std::string temp_name(const std::string& path) {
  static std::atomic<int> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Writes a checkpoint archive to `file` through a stream writer. archive.save_to(path) names the zip's root
// folder after the file it writes, here a temporary name with the pid and a counter: equal weights then gave
// files of different bytes (and checksums). Through a stream the root is always "archive".
void write_archive(torch::serialize::OutputArchive& archive, const std::string& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write the checkpoint " + file + ": " + std::strerror(errno));
  archive.save_to([&out](const void* data, size_t n) -> size_t {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    return out ? n : 0;
  });
  out.flush();
  if (!out) throw Error("cannot write the checkpoint " + file + " (disk full?)");
}

std::string real_text(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

InitFrom parse_init_from(const std::string& text, const std::string& key) {
  auto bad = [&] {
    return InputError(key + ": '" + text + "' is not a stage of a run (expected run:<id>/<stage>, e.g. run:12/train)");
  };
  if (text.rfind("run:", 0) != 0) throw bad();
  const auto slash = text.find('/', 4);
  if (slash == std::string::npos || slash == 4 || slash + 1 == text.size()) throw bad();
  InitFrom f;
  const std::string id = text.substr(4, slash - 4);
  if (id.find_first_not_of("0123456789") != std::string::npos || id.size() > 18) throw bad();
  f.run = std::stoll(id);
  f.stage = text.substr(slash + 1);
  if (f.run < 1) throw bad();
  return f;
}

CheckpointRecord find_init_checkpoint(Store& store, const InitFrom& from, const std::string& key) {
  const std::string name = "run:" + std::to_string(from.run) + "/" + from.stage;
  const auto status = store.run_status(from.run);
  if (!status) throw InputError(key + ": " + name + ": the store " + store.path() + " has no run " + std::to_string(from.run));
  const auto rec = store.stage_checkpoint(from.run, from.stage);
  if (!rec)
    throw InputError(key + ": " + name + ": run " + std::to_string(from.run) + " (" + *status +
                     ") has no checkpoint of stage '" + from.stage + "' (artifacts of kind checkpoint named " +
                     from.stage + "-best.pt; was save_checkpoint off, or the stage named differently?)");
  if (!fs::exists(rec->path))
    throw InputError(key + ": " + name + ": the checkpoint file " + rec->path + " is missing");
  if (rec->sha256.empty())
    throw InputError(key + ": " + name + ": the checkpoint " + rec->path +
                     " was recorded without a checksum (a store older than schema 4); re-run that stage");
  if (sha256_file(rec->path) != rec->sha256)
    throw InputError(key + ": " + name + ": the checkpoint " + rec->path +
                     " was modified since it was written (its sha256 differs from the recorded " + rec->sha256 + ")");
  return *rec;
}

std::string init_from_key(const ResolvedConfig& config, const std::string& stage) {
  const std::string own = config.stage(stage).str("init_from");
  const std::string base = config.section(config.stage_section).str("init_from");
  return own != base ? "stages." + stage + ".init_from" : config.stage_section + ".init_from";
}

void check_init_from(const ResolvedConfig& config, const std::string& db_path) {
  std::vector<std::pair<std::string, std::string>> wanted;  // key, value
  if (auto v = config.section(config.stage_section).str("init_from"); !v.empty())
    wanted.emplace_back(config.stage_section + ".init_from", v);
  for (auto& name : config.stage_names())
    if (auto v = config.stage(name).str("init_from"); !v.empty()) wanted.emplace_back(init_from_key(config, name), v);
  if (wanted.empty()) return;
  for (auto& [key, value] : wanted) parse_init_from(value, key);
  if (!fs::exists(db_path))
    throw InputError(wanted.front().first + ": '" + wanted.front().second + "' names a run, but the store " + db_path +
                     " does not exist yet");
  Store store(db_path, /*read_only=*/true);
  if (store.schema_version() < 4)
    throw InputError(wanted.front().first + ": the store " + db_path + " has schema version " +
                     std::to_string(store.schema_version()) +
                     ", older than checkpoint checksums (4): its checkpoints cannot be checked; re-run the stage");
  for (auto& [key, value] : wanted) find_init_checkpoint(store, parse_init_from(value, key), key);
}

void save_module(torch::nn::Module& model, const std::string& path) {
  const std::string tmp = temp_name(path);
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    write_archive(archive, tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void load_module(torch::nn::Module& model, const std::string& path, const std::string& device,
                 const std::string& what) {
  if (!fs::exists(path)) throw InputError(what + " does not exist");
  // Module::load replaces tensors whatever their shape: compare with the model's own shapes, and restore the
  // model's own tensors when the file does not fit (nothing half-loaded).
  std::vector<std::pair<std::string, torch::Tensor>> before;
  for (auto& p : model.named_parameters()) before.emplace_back(p.key(), p.value().detach().clone());
  auto restore = [&] {
    torch::NoGradGuard no_grad;
    auto named = model.named_parameters();
    for (auto& [name, t] : before)
      if (auto* p = named.find(name)) p->set_data(t);
  };
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::Device(device));
    model.load(archive);
  } catch (const c10::Error& e) {
    restore();
    throw InputError(what + " does not fit this model: " + e.what_without_backtrace());
  }
  const auto named = model.named_parameters();
  for (auto& [name, t] : before) {
    const auto now = named[name].sizes().vec();
    if (now != t.sizes().vec()) {
      restore();
      throw InputError(what + ": parameter " + name + " has shape " + shape_text(now) + ", the model expects " +
                       shape_text(t.sizes().vec()));
    }
  }
}

std::string state_hash(torch::nn::Module& model) {
  std::string bytes;
  auto add = [&](const std::string& kind, const std::string& name, const torch::Tensor& value) {
    const torch::Tensor t = value.detach().to(torch::kCPU).contiguous();
    bytes += kind + ' ' + name + ' ' + std::string(c10::toString(t.scalar_type())) + ' ' + shape_text(t.sizes().vec()) +
             '\n';
    bytes.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  };
  for (auto& p : model.named_parameters()) add("parameter", p.key(), p.value());
  for (auto& b : model.named_buffers()) add("buffer", b.key(), b.value());
  return sha256_hex(bytes);
}

std::string torch_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  const torch::Tensor s = gen.get_state().contiguous();
  return std::string(static_cast<const char*>(s.data_ptr()), s.numel() * s.element_size());
}

void set_torch_rng_state(const std::string& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  torch::Tensor s = torch::empty({static_cast<int64_t>(state.size())}, torch::kUInt8);
  std::memcpy(s.data_ptr(), state.data(), state.size());
  gen.set_state(s);
}

fs::path stage_cache_dir(const std::string& db_path) { return store_files_dir(db_path) / "cache"; }

std::optional<CacheEntry> read_cache_entry(const fs::path& dir, const std::string& key) {
  std::ifstream in(dir / (key + ".meta"));
  if (!in) return std::nullopt;
  CacheEntry e;
  e.path = (dir / (key + ".pt")).string();
  std::string line, head;
  if (!std::getline(in, head) || head != "xrec-stage-cache 1") return std::nullopt;
  try {
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string field;
      f >> field;
      if (field == "sha256") f >> e.sha256;
      else if (field == "epochs_run") f >> e.result.epochs_run;
      else if (field == "best_epoch") f >> e.result.best_epoch;
      else if (field == "best_score") e.result.best_score = std::stod(line.substr(11));
      else if (field == "valid") {
        std::string k, v;
        f >> k >> v;
        e.result.best_valid[k] = std::stod(v);
      } else if (field == "torch_rng") {
        std::string h;
        f >> h;
        auto b = unhex(h);
        if (!b) return std::nullopt;
        e.torch_rng = *b;
      } else if (field == "batches") {
        std::string k;
        f >> k;
        auto b = unhex(k);
        if (!b) return std::nullopt;
        std::string rest;
        std::getline(f, rest);
        e.batches[*b] = rest.empty() ? rest : rest.substr(1);
      }
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (e.sha256.size() != 64 || !fs::exists(e.path)) return std::nullopt;
  if (sha256_file(e.path) != e.sha256) return std::nullopt;
  return e;
}

CacheEntry write_cache_entry(const fs::path& dir, const std::string& key, torch::nn::Module& model,
                             const TrainResult& result, const std::string& torch_rng,
                             const std::map<std::string, std::string>& batches) {
  fs::create_directories(dir);
  CacheEntry e;
  e.path = (dir / (key + ".pt")).string();
  e.result = result;
  e.torch_rng = torch_rng;
  e.batches = batches;
  // The weights under a temporary name first: its checksum goes into the .meta, and both are renamed into
  // place only when complete (the .meta last, so a reader that finds it finds a complete .pt).
  const std::string pt_tmp = temp_name(e.path);
  const std::string meta = (dir / (key + ".meta")).string();
  const std::string meta_tmp = temp_name(meta);
  try {
    {
      torch::serialize::OutputArchive archive;
      model.save(archive);
      write_archive(archive, pt_tmp);
    }
    e.sha256 = sha256_file(pt_tmp);
    {
      std::ofstream out(meta_tmp);
      out << "xrec-stage-cache 1\n"
          << "sha256 " << e.sha256 << "\n"
          << "epochs_run " << result.epochs_run << "\n"
          << "best_epoch " << result.best_epoch << "\n"
          << "best_score " << real_text(result.best_score) << "\n";
      for (auto& [k, v] : result.best_valid) out << "valid " << k << " " << real_text(v) << "\n";
      if (!torch_rng.empty()) out << "torch_rng " << hex(torch_rng) << "\n";
      for (auto& [k, v] : batches) out << "batches " << hex(k) << " " << v << "\n";
      out.flush();
      if (!out) throw Error("stage cache: cannot write " + meta_tmp);
    }
    fs::rename(pt_tmp, e.path);
    fs::rename(meta_tmp, meta);
  } catch (...) {
    std::error_code ec;
    fs::remove(pt_tmp, ec);
    fs::remove(meta_tmp, ec);
    throw;
  }
  return e;
}

namespace {
torch::Tensor text_tensor(const std::string& text) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(text.size())}, torch::kUInt8);
  if (!text.empty()) std::memcpy(t.data_ptr(), text.data(), text.size());
  return t;
}
std::string tensor_text(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()));
}
}  // namespace

void save_progress(const std::string& path, torch::nn::Module& model, const StageProgress& p,
                   const std::map<std::string, std::string>& batches) {
  std::ostringstream text;
  text << "next_epoch " << p.next_epoch << "\nsteps " << p.steps << "\nepochs_run " << p.result.epochs_run
       << "\nbest_epoch " << p.result.best_epoch << "\nbest_score " << real_text(p.result.best_score) << "\n";
  for (auto& [k, v] : p.result.best_valid) text << "valid " << k << ' ' << real_text(v) << "\n";
  text << "tracker " << real_text(p.best->best()) << ' ' << p.best->best_step() << ' ' << p.best->since_best() << ' '
       << p.best->snapshot().size() << "\n";
  text << "mix_rng " << *p.mix_rng << "\n";
  text << "torch_rng " << hex(torch_rng_state()) << "\n";
  for (auto& [k, v] : batches) text << "batches " << hex(k) << ' ' << v << "\n";
  torch::serialize::OutputArchive archive, weights, optimizer, best;
  model.save(weights);
  archive.write("model", weights);
  p.optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  for (size_t i = 0; i < p.best->snapshot().size(); ++i) best.write("t" + std::to_string(i), p.best->snapshot()[i]);
  archive.write("best", best);
  archive.write("progress", text_tensor(text.str()));
  const std::string tmp = temp_name(path);
  try {
    write_archive(archive, tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

bool load_progress(const std::string& path, torch::nn::Module& model, StageProgress& p,
                   std::map<std::string, std::string>& batches, const std::string& device) {
  if (!fs::exists(path)) return false;
  try {
    torch::serialize::InputArchive archive, weights, optimizer, best;
    archive.load_from(path, torch::Device(device));
    torch::Tensor text_t;
    archive.read("progress", text_t);
    std::istringstream text(tensor_text(text_t));
    std::string line;
    double best_value = 0;
    int64_t best_step = -1, since_best = 0;
    size_t snapshots = 0;
    while (std::getline(text, line)) {
      std::istringstream f(line);
      std::string field;
      f >> field;
      if (field == "next_epoch") f >> p.next_epoch;
      else if (field == "steps") f >> p.steps;
      else if (field == "epochs_run") f >> p.result.epochs_run;
      else if (field == "best_epoch") f >> p.result.best_epoch;
      else if (field == "best_score") p.result.best_score = std::stod(line.substr(11));
      else if (field == "valid") {
        std::string k, v;
        f >> k >> v;
        p.result.best_valid[k] = std::stod(v);
      } else if (field == "tracker") {
        std::string v;
        f >> v >> best_step >> since_best >> snapshots;
        best_value = std::stod(v);
      } else if (field == "mix_rng") f >> *p.mix_rng;
      else if (field == "torch_rng") {
        std::string h;
        f >> h;
        auto b = unhex(h);
        if (!b) throw Error("its torch_rng is not hex");
        set_torch_rng_state(*b);
      } else if (field == "batches") {
        std::string k, rest;
        f >> k;
        std::getline(f, rest);
        auto b = unhex(k);
        if (!b) throw Error("a batches key is not hex");
        batches[*b] = rest.empty() ? rest : rest.substr(1);
      }
      if (!f && !f.eof()) throw Error("cannot read '" + line.substr(0, 40) + "'");
    }
    archive.read("model", weights);
    model.load(weights);
    archive.read("optimizer", optimizer);
    p.optimizer->load(optimizer);
    archive.read("best", best);
    std::vector<torch::Tensor> snapshot(snapshots);
    for (size_t i = 0; i < snapshots; ++i) best.read("t" + std::to_string(i), snapshot[i]);
    p.best->set_state(best_value, best_step, since_best, std::move(snapshot));
  } catch (const c10::Error& e) {
    throw InputError("resume checkpoint " + path + " cannot be read: " + e.what_without_backtrace());
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError("resume checkpoint " + path + " cannot be read: " + e.what());
  }
  return true;
}

}  // namespace xrec::engine
