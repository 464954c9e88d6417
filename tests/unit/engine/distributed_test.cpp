// Data parallel (core/src/distributed/data_parallel.cpp): which process this is, from the environment
// (`xrec run --nproc` children, srun tasks, a batch script that must stay one process). The collectives
// are tested end to end in tests/e2e/scaleout_test.cpp (2 ranks vs 1 process, a dead rank).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "support/expect_error.hpp"
#include "xrec/distributed/group.hpp"

using namespace xrec;
using xrec::test::expect_input_error;

namespace {

// Clears every variable from_environment() reads, sets `vars`, restores nothing (tests own the process).
void environment(std::initializer_list<std::pair<const char*, const char*>> vars) {
  for (const char* v : {"XREC_WORLD_SIZE", "XREC_RANK", "XREC_MASTER_ADDR", "XREC_MASTER_PORT", "XREC_DIST_BACKEND",
                        "XREC_DIST_TIMEOUT", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "SLURM_JOB_ID",
                        "MASTER_ADDR", "MASTER_PORT"})
    unsetenv(v);
  for (auto& [k, v] : vars) setenv(k, v, 1);
}

}  // namespace

TEST(DistributedEnvironment, NothingSetIsOneProcess) {
  environment({});
  EXPECT_FALSE(distributed::from_environment());
  environment({{"XREC_WORLD_SIZE", "1"}, {"XREC_RANK", "0"}});
  EXPECT_FALSE(distributed::from_environment());
  EXPECT_FALSE(distributed::active());
  EXPECT_EQ(distributed::world_size(), 1);
}

TEST(DistributedEnvironment, NprocChildrenReadTheXrecVariables) {
  environment({{"XREC_WORLD_SIZE", "4"}, {"XREC_RANK", "3"}, {"XREC_MASTER_ADDR", "10.0.0.1"},
               {"XREC_MASTER_PORT", "23456"}, {"XREC_DIST_TIMEOUT", "7"}});
  auto o = distributed::from_environment();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->world_size, 4);
  EXPECT_EQ(o->rank, 3);
  EXPECT_EQ(o->address, "10.0.0.1");
  EXPECT_EQ(o->port, 23456);
  EXPECT_EQ(o->backend, "gloo");
  EXPECT_EQ(o->timeout_s, 7);
}

TEST(DistributedEnvironment, SrunTasksReadSlurmAndABatchScriptStaysOneProcess) {
  environment({{"SLURM_PROCID", "1"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_ID", "1234"},
               {"MASTER_ADDR", "node7"}});
  auto o = distributed::from_environment();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->world_size, 2);
  EXPECT_EQ(o->rank, 1);
  EXPECT_EQ(o->address, "node7");
  EXPECT_EQ(o->port, 29500 + 234);  // 29500 + job id % 1000: concurrent jobs on a node differ
  // The batch step (or an salloc shell) has SLURM_NTASKS and SLURM_PROCID but is not an srun step.
  environment({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}});
  EXPECT_FALSE(distributed::from_environment());
  // XREC_WORLD_SIZE=1 overrides Slurm.
  environment({{"XREC_WORLD_SIZE", "1"}, {"SLURM_PROCID", "1"}, {"SLURM_STEP_NUM_TASKS", "2"}});
  EXPECT_FALSE(distributed::from_environment());
}

TEST(DistributedEnvironment, BadValuesAreInputErrors) {
  environment({{"XREC_WORLD_SIZE", "two"}});
  expect_input_error([] { distributed::from_environment(); }, {"$XREC_WORLD_SIZE", "'two'"});
  environment({{"XREC_WORLD_SIZE", "2"}});
  expect_input_error([] { distributed::from_environment(); }, {"$XREC_RANK"});
  environment({{"XREC_WORLD_SIZE", "2"}, {"XREC_RANK", "2"}});
  expect_input_error([] { distributed::from_environment(); }, {"rank 2 ($XREC_RANK) is not below the world size 2 ($XREC_WORLD_SIZE)"});
  environment({{"XREC_WORLD_SIZE", "2"}, {"XREC_RANK", "0"}, {"XREC_DIST_BACKEND", "mpi"}});
  expect_input_error([] { distributed::from_environment(); }, {"'mpi' is unknown (expected gloo or nccl)"});
  environment({{"XREC_WORLD_SIZE", "2"}, {"XREC_RANK", "0"}, {"XREC_MASTER_PORT", "70000"}});
  expect_input_error([] { distributed::from_environment(); }, {"port 70000 is above 65535"});
  // NCCL is refused on a CPU build when joining, before any socket is opened.
  distributed::Options nccl;
  nccl.world_size = 2;
  nccl.backend = "nccl";
  if (!distributed::has_backend("nccl"))
    expect_input_error([&] { distributed::init(nccl); }, {"backend 'nccl' is not in this build"});
  EXPECT_TRUE(distributed::has_backend("gloo"));
}

TEST(DistributedEnvironment, ConfigKeysApplyWhereTheEnvironmentIsSilent) {
  distributed::Requested keys;
  keys.world_size = 3;
  keys.rank = 2;
  keys.address = "node0";
  keys.port = 29600;
  keys.backend = "gloo";
  keys.timeout_s = 12;
  environment({});
  auto o = distributed::resolve(keys);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->world_size, 3);
  EXPECT_EQ(o->rank, 2);
  EXPECT_EQ(o->address, "node0");
  EXPECT_EQ(o->port, 29600);
  EXPECT_EQ(o->timeout_s, 12);
  // The environment wins: --nproc's children and srun tasks keep their ranks; variables beat keys.
  environment({{"XREC_WORLD_SIZE", "2"}, {"XREC_RANK", "1"}, {"XREC_MASTER_PORT", "23456"}});
  o = distributed::resolve(keys);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->world_size, 2);
  EXPECT_EQ(o->rank, 1);
  EXPECT_EQ(o->address, "node0");  // no variable for it: the key
  EXPECT_EQ(o->port, 23456);
  // An explicit port beats the Slurm-derived default; XREC_WORLD_SIZE=1 forces one process over the keys.
  environment({{"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_JOB_ID", "1234"}});
  EXPECT_EQ(distributed::resolve(keys)->port, 29600);
  environment({{"XREC_WORLD_SIZE", "1"}});
  EXPECT_FALSE(distributed::resolve(keys));
  // The defaults of the section are one process.
  environment({});
  EXPECT_FALSE(distributed::resolve(distributed::Requested{}));
  keys.rank = 3;
  expect_input_error([&] { distributed::resolve(keys); },
                     {"rank 3 (distributed.rank) is not below the world size 3 (distributed.world_size)"});
}
