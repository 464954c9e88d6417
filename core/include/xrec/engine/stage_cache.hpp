#pragma once
// Stage reuse (docs/adr/0009-stage-reuse-and-resume.md): a stage's starting weights from another run's
// checkpoint (`init_from: run:<id>/<stage>`), and the per-store stage cache that keeps a stage's output
// under a key of everything that determines it. The pieces here are free of RunContext so they can be
// tested alone; RunContext::reuse_stage / store_stage put them together.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "xrec/api/transfer.hpp"
#include "xrec/config.hpp"
#include "xrec/engine/trainer.hpp"
#include "xrec/store.hpp"

namespace torch::nn {
class Module;
}

namespace xrec::engine {

// `run:<id>/<stage>`, e.g. run:12/pretrain.
struct InitFrom {
  int64_t run = 0;
  std::string stage;
};
// Throws InputError naming `key` (e.g. "stages.finetune.init_from") when `text` is not run:<id>/<stage>.
InitFrom parse_init_from(const std::string& text, const std::string& key);

// The checkpoint `from` names in `store`, checked: the run exists, has that stage's best checkpoint, the file
// is there and its sha256 is the one recorded when it was written. Throws InputError naming `key`.
CheckpointRecord find_init_checkpoint(Store& store, const InitFrom& from, const std::string& key);

// The config key a stage's init_from comes from: stages.<stage>.init_from when the stage sets its own,
// else train.init_from.
std::string init_from_key(const ResolvedConfig& config, const std::string& stage);

// Before a run starts (nothing written yet): every init_from of the config (train: and each stages.<name>)
// is well formed and names a checkpoint that exists, unchanged, in the store at `db_path`. Throws InputError.
void check_init_from(const ResolvedConfig& config, const std::string& db_path);

// Writes `model` (parameters and buffers) to `path` through a temporary file renamed into place.
void save_module(torch::nn::Module& model, const std::string& path);
// Loads `path` into `model` on `device`; a file that does not fit names the parameter and both shapes.
// `what` starts the error message (e.g. "stages.finetune.init_from: checkpoint runs/xrec/3/train-best.pt").
void load_module(torch::nn::Module& model, const std::string& path, const std::string& device,
                 const std::string& what);

// sha256 over every parameter's and buffer's name, dtype, shape and bytes: the model's state at stage start.
std::string state_hash(torch::nn::Module& model);

// The default CPU random generator's state (dropout, torch draws) as bytes, and back.
std::string torch_rng_state();
void set_torch_rng_state(const std::string& state);

// The stage cache of the store at `db_path`: <store folder>/<store stem>/cache (beside its run folders).
std::filesystem::path stage_cache_dir(const std::string& db_path);

// One cache entry: <key>.pt (the weights) and <key>.meta (the stage's TrainResult, the sha256 of the .pt,
// the torch generator state and the batch streams' states the stage left behind).
struct CacheEntry {
  std::string path;    // the .pt
  std::string sha256;  // of the .pt
  TrainResult result;
  std::string torch_rng;                      // "" = not recorded
  std::map<std::string, std::string> batches;  // batcher key -> TrainBatches::state()
};

// The entry of `key` when it is complete and its .pt has the recorded sha256; nullopt otherwise (a partial
// or corrupt entry counts as a miss and is overwritten by the next store).
std::optional<CacheEntry> read_cache_entry(const std::filesystem::path& dir, const std::string& key);
// Writes both files of `key` through temporary files renamed into place (.pt first, .meta last: a reader
// that sees the .meta sees a complete .pt), so concurrent trials missing the same key never corrupt it.
CacheEntry write_cache_entry(const std::filesystem::path& dir, const std::string& key, torch::nn::Module& model,
                             const TrainResult& result, const std::string& torch_rng,
                             const std::map<std::string, std::string>& batches);

// A stage's last epoch (xrec run --resume): the current weights, the optimizer's state, the best tracker with
// its snapshot, the progress counters, the interleaving's, batches' and torch's random streams, written to
// `path` through a temporary file. load_progress fills `progress` (and `batches`) back; false when there is
// no file.
void save_progress(const std::string& path, torch::nn::Module& model, const StageProgress& progress,
                   const std::map<std::string, std::string>& batches);
bool load_progress(const std::string& path, torch::nn::Module& model, StageProgress& progress,
                   std::map<std::string, std::string>& batches, const std::string& device);

}  // namespace xrec::engine
