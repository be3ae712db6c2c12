// The serving directory's publish protocol: names, LATEST, monotone
// versions, retention, and readers racing a publisher.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "checkpoint/serving_versions.h"
#include "checkpoint/weights_file.h"
#include "serve_test_util.h"

namespace pouch {
namespace {

namespace fs = std::filesystem;
using testing::publish_tiny;
using testing::read_text;
using testing::TempDir;
using testing::write_text;

std::vector<std::int64_t> versions_in(const std::string& dir) {
  std::vector<std::int64_t> out;
  for (const auto& v : list_serving_versions(dir)) out.push_back(v.version);
  return out;
}

TEST(ServingVersions, Names) {
  EXPECT_EQ(serving_version_file_name(7), "v-000007.h5");
  EXPECT_EQ(serving_version_file_name(1234567), "v-1234567.h5");
  EXPECT_EQ(parse_serving_version_file_name("v-000007.h5"), 7);
  EXPECT_EQ(parse_serving_version_file_name("v-1234567.h5"), 1234567);
  EXPECT_FALSE(parse_serving_version_file_name("v-000007.h5.tmp"));
  EXPECT_FALSE(parse_serving_version_file_name("v-7.h5"));
  EXPECT_FALSE(parse_serving_version_file_name("v-00000x.h5"));
  EXPECT_FALSE(parse_serving_version_file_name("LATEST"));
  EXPECT_EQ(serving_dir("runs/a"), "runs/a/serve");
}

TEST(ServingVersions, PublishWritesFileAndLatest) {
  TempDir tmp;
  const std::string dir = tmp.file("run/serve");
  EXPECT_FALSE(read_latest_serving_version(dir));  // the directory does not exist yet
  const ServingVersion v = publish_tiny(dir, 1, 11);
  EXPECT_EQ(v.version, 1);
  EXPECT_EQ(v.path, dir + "/v-000001.h5");
  EXPECT_EQ(read_text(dir + "/LATEST"), "1 v-000001.h5\n");
  const auto latest = read_latest_serving_version(dir);
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->version, 1);
  EXPECT_EQ(latest->path, v.path);
  // A weights file carrying the tokenizer, as pouch train writes model.h5.
  const WeightsFile file = load_weights(v.path);
  EXPECT_EQ(file.config.vocab_size, 31);
  ASSERT_TRUE(file.attrs.count("tokenizer"));
  EXPECT_EQ(file.attrs.at("tokenizer"), CharTokenizer::reasoning().serialize());
  EXPECT_FALSE(fs::exists(dir + "/LATEST.tmp"));
  EXPECT_FALSE(fs::exists(v.path + ".tmp"));
}

TEST(ServingVersions, VersionsStrictlyIncrease) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  publish_tiny(dir, 5, 1);
  for (std::int64_t stale : {5, 4}) {
    try {
      publish_tiny(dir, stale, 2);
      FAIL() << "version " << stale << " after 5 was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not newer than the published version 5"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(read_latest_serving_version(dir)->version, 5);
  EXPECT_THROW(publish_tiny(tmp.file("other"), 0, 1), Error);
  publish_tiny(dir, 9, 3);
  EXPECT_EQ(read_latest_serving_version(dir)->version, 9);
}

TEST(ServingVersions, KeepsTheNewestK) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  for (std::int64_t v = 1; v <= 5; ++v) publish_tiny(dir, v, v);
  EXPECT_EQ(versions_in(dir), (std::vector<std::int64_t>{3, 4, 5}));
  publish_tiny(dir, 6, 6, /*keep=*/1);
  EXPECT_EQ(versions_in(dir), (std::vector<std::int64_t>{6}));
  EXPECT_THROW(publish_tiny(dir, 7, 7, /*keep=*/0), Error);
}

TEST(ServingVersions, NeverPrunesWhatLatestNames) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  publish_tiny(dir, 1, 1);
  // A newer file LATEST does not name (a publisher killed between the
  // file's rename and LATEST's), then a publish that keeps one: LATEST's
  // file stays although it is not the newest.
  fs::copy_file(dir + "/v-000001.h5", dir + "/v-000009.h5");
  publish_tiny(dir, 2, 2, /*keep=*/1);
  EXPECT_EQ(read_latest_serving_version(dir)->version, 2);
  EXPECT_TRUE(fs::exists(dir + "/v-000002.h5"));
  EXPECT_FALSE(fs::exists(dir + "/v-000001.h5"));
}

TEST(ServingVersions, LeftoverTmpIsIgnoredAndCleared) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  publish_tiny(dir, 1, 1);
  write_text(dir + "/v-000002.h5.tmp", "half a file");  // a publisher killed mid-write
  EXPECT_EQ(read_latest_serving_version(dir)->version, 1);
  EXPECT_EQ(versions_in(dir), (std::vector<std::int64_t>{1}));
  publish_tiny(dir, 3, 3);
  EXPECT_FALSE(fs::exists(dir + "/v-000002.h5.tmp"));
}

TEST(ServingVersions, MalformedLatestIsAClearError) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  fs::create_directories(dir);
  for (const char* text :
       {"garbage\n", "3\n", "3 v-000004.h5\n", "-1 v-000001.h5\n", "3 ../v-000003.h5\n", "3 v-000003.h5 extra\n", ""}) {
    write_text(dir + "/LATEST", text);
    try {
      read_latest_serving_version(dir);
      FAIL() << "LATEST '" << text << "' was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(dir + "/LATEST"), std::string::npos) << what;
      EXPECT_NE(what.find("malformed"), std::string::npos) << what;
    }
  }
  // A hand-written LATEST without the final newline is fine.
  write_text(dir + "/LATEST", "3 v-000003.h5");
  EXPECT_EQ(read_latest_serving_version(dir)->version, 3);
}

TEST(ServingVersions, RequiresTheTokenizer) {
  TempDir tmp;
  const GPTConfig cfg = testing::tiny_serving_config();
  auto backend = make_backend(Device::CPU);
  GPT model(cfg, *backend);
  model.init_weights(1);
  EXPECT_THROW(publish_serving_version(tmp.file("serve"), 1, model.named_values(), cfg, "", ""), Error);
}

// LATEST is replaced by a rename, never rewritten in place: a reader racing
// the publisher always reads a whole line naming a published version, and
// the versions it sees never go back. (The reader touches no HDF5, so the
// two threads may run at once.)
TEST(ServingVersions, ReadersNeverSeeAPartialLatest) {
  TempDir tmp;
  const std::string dir = tmp.file("serve");
  publish_tiny(dir, 1, 1);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, errors{0}, backwards{0};
  std::thread reader([&] {
    std::int64_t last = 0;
    while (!done) {
      try {
        const auto latest = read_latest_serving_version(dir);
        if (!latest || latest->version < last) ++backwards;
        if (latest) last = latest->version;
        ++reads;
      } catch (const Error&) {
        ++errors;
      }
    }
  });
  for (std::int64_t v = 2; v <= 25; ++v) publish_tiny(dir, v, v);
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(read_latest_serving_version(dir)->version, 25);
}

}  // namespace
}  // namespace pouch
