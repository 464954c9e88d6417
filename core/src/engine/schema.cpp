#include "xrec/engine/schema.hpp"

#include "xrec/catalog.hpp"
#include "xrec/data/data_pipeline.hpp"

namespace xrec::engine {

namespace {
// `data.target: beauty` stands for the catalog entry's `{type, params..., catalog: beauty}`.
std::optional<YAML::Node> expand_catalog_name(const std::string& name) {
  const CatalogEntry* entry = find_catalog_entry(name);
  if (!entry) return std::nullopt;
  YAML::Node map(YAML::NodeType::Map);
  map["type"] = entry->type;
  // Catalog params are YAML scalars: plain nodes, so `max_users: 100` reads as an int like in a file.
  for (auto& [k, v] : entry->params) map[k] = v;
  map["catalog"] = entry->name;
  return map;
}

std::vector<std::string> catalog_names() {
  std::vector<std::string> names;
  for (auto& e : dataset_catalog()) names.push_back(e.name);
  return names;
}

ConfigSchema build() {
  using namespace xrec::param;
  ConfigSchema s;
  s.sections[""] = {
      string("name", "run", "Run name shown by `xrec runs` and stored with the run"),
      integer("seed", 42, "Seed of every random choice (init, batches, negatives, dropout)").at_least(0),
      integer("threads", 0, "Intra-op CPU threads for LibTorch; 0 = all cores").at_least(0),
      string("device", "auto", "Where to train: auto (CUDA when available), cpu, cuda or cuda:N"),
      string("data_root", "", "Extra folder searched first for dataset files (before $XREC_DATA and ../shared/data)"),
      boolean("save_checkpoint", true, "Write the best model to the run folder as best.pt"),
  };
  s.stage_section = "train";  // `stages.<name>.*` overrides `train:` key by key (docs/config.md)
  s.sections["train"] = {
      integer("epochs", 200, "Maximum training epochs").at_least(1),
      integer("batch_size", 256, "Training sequences per batch").at_least(1),
      integer("steps", 0, "A budget of optimizer steps instead of epochs (validation still every eval_every epochs); 0 = "
                          "use epochs").at_least(0),
      string("optimizer", "adam", "adam, adamw (decoupled weight decay) or sgd (with momentum)")
          .one_of({"adam", "adamw", "sgd"}),
      real("lr", 1e-3, "Learning rate").at_least(0),
      real("weight_decay", 0.0, "Weight decay (L2 for adam and sgd, decoupled for adamw)").at_least(0),
      real("momentum", 0.0, "SGD momentum").at_least(0),
      string_list("freeze", {},
                  "Glob patterns (* ?) on parameter names (e.g. 'backbone.*'): those parameters are frozen, never given "
                  "to the optimizer"),
      string_list("reinit", {},
                  "Glob patterns on parameter names re-initialised before the stage (matrices Xavier normal, norm "
                  "weights 1, other vectors 0)"),
      string_list("groups", {},
                  "Parameter groups 'pattern=lr' or 'pattern=lr:weight_decay' (first match wins; e.g. "
                  "'items.*=1e-4')"),
      string("mix", "proportional",
             "Interleaving of several training domains: proportional (every batch once per epoch), uniform (each "
             "domain equally often), round_robin (in turn), weighted (by the strategy's weights)")
          .one_of({"proportional", "uniform", "round_robin", "weighted"}),
      boolean("checkpoint", true, "Write the stage's best model as <stage>-best.pt (also needs save_checkpoint)"),
      string("init_from", "",
             "run:<id>/<stage>: the stage is not trained; it starts (and ends) with that stage's best checkpoint of "
             "run <id> in the same store (usually set per stage: stages.<name>.init_from)"),
      boolean("cache", false,
              "Keep the stage's output in the store's stage cache, keyed by the weights at stage start, the stage's "
              "options, its data and the seed; a later stage with the same key loads it instead of training"),
      real("grad_clip", 0.0, "Clip the gradient norm to this value; 0 = off").at_least(0),
      string("loss", "ce",
             "ce: full softmax over all items; bce: binary CE with sampled negatives (original SASRec); inbatch: "
             "in-batch contrastive, the batch's other targets are the negatives, a repeat of the row's own target "
             "masked (UniSRec, ANT pre-training). A stage may switch between ce and inbatch, not to or from bce")
          .one_of({"ce", "bce", "inbatch"}),
      string("score", "dot",
             "How a state scores an item in the losses and in ranking: dot product, or cosine similarity divided "
             "by train.temperature (UniSRec, ANT). Fixed when the model is made (stages cannot change it)")
          .one_of({"dot", "cosine"}),
      real("temperature", 0.07, "Temperature of cosine scores (score: cosine); fixed when the model is made")
          .at_least(1e-6),
      boolean("aux_loss", true,
              "Add the item encoder's auxiliary loss to the training loss (e.g. ANT's cross-modal contrastive "
              "term); off for a stage that should train on the recommendation loss alone"),
      integer("negatives", 1, "Sampled negatives per position for the bce loss").at_least(1),
      string("samples", "sequence",
             "sequence: one sample per training sequence, a target at every position (SASRec, S3-Rec); prefix: "
             "one sample per item, predicted from the max_len items before it (RecBole's augmentation); window: "
             "windows of max_len overlapping by half, every item a target once (prefix's data, far cheaper)")
          .one_of({"sequence", "prefix", "window"}),
      boolean("length_groups", true,
              "Run the backbone on groups of rows of similar length inside each batch: the same loss and gradients, "
              "without encoding the padding (2-3x faster epochs on Beauty); off for a backbone whose rows interact"),
      integer("patience", 10, "Stop after this many evaluations without a better validation metric").at_least(1),
      integer("eval_every", 1, "Validate every N epochs").at_least(1),
      string("select_metric", "ndcg@10",
             "Validation metric that picks the best epoch (e.g. ndcg@10, hr@10, mrr, auc; logloss is minimised)"),
  };
  s.sections["eval"] = {
      string("protocol", "full",
             "full: rank all items (history as eval.history says); sampled: rank the target among negatives; "
             "pointwise: label (user, item) pairs with a pointwise model (auc, gauc, logloss; cold-start methods)")
          .one_of({"full", "sampled", "pointwise"}),
      int_list("ks", {5, 10, 20}, "Cut-offs K of hr@K (= recall@K), precision@K, ndcg@K and mrr@K").range(1, 1e9),
      string("history", "keep_target",
             "full: the user's earlier items. keep_target: not candidates, but a repeated target keeps its score; "
             "mask_all: all out, target included (a repeated target is a miss; S3-Rec's code); none: all compete "
             "(RecBole's sequential evaluation)")
          .one_of({"keep_target", "mask_all", "none"}),
      boolean("mask_history", true, "Deprecated alias: false = `history: none`; use eval.history"),
      integer("negatives", 99, "Negatives per case for the sampled protocol").at_least(1),
      string("sampler", "uniform",
             "Negatives for the sampled protocol: uniform over items the user never saw, popularity-weighted, or "
             "file (the dataset's fixed negatives, e.g. LastFM_sample.txt)")
          .one_of({"uniform", "popularity", "file"}),
      integer("batch_size", 1024, "Users scored per evaluation batch (bounds memory)").at_least(1),
      boolean("save_ranks", true,
              "Store every case's rank for the evaluations a method reports (table case_ranks; `xrec compare`)"),
  };
  s.sections["cold_start"] = {
      string("order", "time",
             "Which target users are cold: time = those whose first interaction is latest; random = a seeded draw")
          .one_of({"time", "random"}),
      real("cold_fraction", 0.2, "Share of the eligible users held out as cold (the rest are warm)").range(0, 1),
      integer("support", 10, "A user's first N interactions (time order) form the support set, the rest the query")
          .at_least(1),
      integer("min_query", 1, "Users with fewer than support + min_query interactions are left out").at_least(1),
      integer("negatives", 1, "Sampled non-interactions (label 0) per positive, in support and query").at_least(0),
  };
  // How a run is executed, not what it computes: validated like every section, but left out of the stored
  // config and its hash (ConfigSchema::unrecorded), so the same experiment on 1 or N processes is one config.
  s.sections["distributed"] = {
      integer("world_size", 1,
              "Processes of a data-parallel run started by hand (one `xrec run` per process, each with its own "
              "distributed.rank); `--nproc N` and srun set the world size and rank themselves")
          .range(1, 65536),
      integer("rank", 0, "This process's rank, 0 .. world_size - 1 (rank 0 hosts the rendezvous and records the run)")
          .at_least(0),
      string("address", "",
             "Host of rank 0's rendezvous (TCPStore); empty: $XREC_MASTER_ADDR, $MASTER_ADDR, else 127.0.0.1"),
      integer("port", 0, "Port of the rendezvous; 0: $XREC_MASTER_PORT, $MASTER_PORT, else 29500 (+ job id % 1000 "
                         "under Slurm)")
          .range(0, 65535),
      string("backend", "gloo", "c10d backend: gloo (CPU) or nccl (a CUDA LibTorch build); $XREC_DIST_BACKEND wins")
          .one_of({"gloo", "nccl"}),
      real("timeout", 60, "Seconds to wait for the other ranks when joining and in every collective; a dead rank "
                          "fails the others after this")
          .at_least(1),
  };
  s.unrecorded = {"distributed"};
  s.sections["split"] = {
      string("method", "leave_one_out",
             "leave_one_out: by time, last item = test, second last = validation; ratio: per user by time, "
             "shares of split.ratios; time: at split.valid_time / split.test_time; given: the dataset's own split")
          .one_of({"leave_one_out", "ratio", "time", "given"}),
      integer("min_length", 3, "leave_one_out: users with fewer items are used for training only, never evaluated")
          .at_least(3),
      real_list("ratios", {0.8, 0.1, 0.1},
                "ratio: train, valid and test shares of each user's interactions in time order (normalised)")
          .range(0, 1),
      integer("valid_time", 0,
              "time: interactions at or after this timestamp (and before test_time) are validation cases"),
      integer("test_time", 0, "time: interactions at or after this timestamp are test cases"),
  };
  // Every data section takes the host's data keys, and may be given as a catalog name (`data.target: beauty`).
  auto data_slot = [](const char* path, bool required, bool list, const char* doc) {
    ConfigSchema::Slot slot{path, Kind::Dataset, required, list, doc, data_section_specs(), expand_catalog_name,
                            catalog_names};
    return slot;
  };
  s.slots = {
      data_slot("data.target", true, false, "The target domain"),
      data_slot("data.sources", false, true, "Source domains (their own users and items)"),
      {"backbone", Kind::Backbone, false, false, "Sequence encoder (required unless `baseline` or, for a cold-start strategy, `pointwise_model` is given)", {}, {}, {}},
      {"quantizer", Kind::Quantizer, false, false, "Optional quantizer between item tables and the backbone", {}, {},
       {}},
      {"item_encoder", Kind::ItemEncoder, false, false,
       "Item vectors the backbone reads and scoring compares with (default: the built-in `id` table per domain)",
       {param::boolean("with_ids", false,
                       "Transductive: add a free id vector per item (the `id` encoder's tables, parameters "
                       "item_ids.items_<d>, drawn with the backbone's init_std) to this encoder's vectors")},
       {}, {}},
      {"pointwise_model", Kind::PointwiseModel, false, false,
       "CTR-style model over user and item fields, for cold-start strategies (TransferContext::make_pointwise_model)",
       {}, {}, {}},
      {"transfer", Kind::Transfer, false, false, "Transfer strategy (required with a backbone)", {}, {}, {}},
      {"baseline", Kind::Baseline, false, false, "A complete non-neural recommender instead of backbone+transfer", {},
       {}, {}},
  };
  return s;
}
}  // namespace

const ConfigSchema& run_schema() {
  static const ConfigSchema schema = build();
  return schema;
}

}  // namespace xrec::engine
