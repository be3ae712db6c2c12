#include "serve/generation_batcher.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "runtime/error.h"
#include "runtime/threads.h"

namespace pouch {

namespace {

// splitmix64 (Steele et al., "Fast splittable pseudorandom number
// generators", OOPSLA'14): spreads a counter into well-mixed seeds.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

}  // namespace

struct GenerationBatcher::Active {
  std::shared_ptr<const ServingModel> model;  // the snapshot taken when it joined
  GenerationSequence sequence;
  Done done;
};

GenerationBatcher::GenerationBatcher(ModelSlot& slot, std::int64_t max_batch, std::int64_t max_waiting,
                                     std::uint64_t seed_base)
    : slot_(slot), max_batch_(max_batch), max_waiting_(max_waiting), seed_base_(seed_base) {
  if (max_batch < 1) fail("--max-batch must be >= 1 (got {})", max_batch);
  if (max_waiting < 0) fail("--max-queue must be >= 0 (got {})", max_waiting);
  thread_ = std::thread([this] {
    // One BLAS thread: a decode step's GEMMs ([batch, d_model] rows) are too
    // small to split, and OpenMP workers spinning beside the event loop and
    // the clients cost more than they give (measured: 16 clients fell to
    // 0.3x of 1 client with all cores, 3.9x with one).
    set_compute_threads(1);
    run();
  });
}

GenerationBatcher::~GenerationBatcher() { stop(); }

bool GenerationBatcher::submit(GenerateRequest request, Done done) {
  std::vector<std::pair<GenerateRequest, Done>> one;
  one.emplace_back(std::move(request), std::move(done));
  return submit_all(std::move(one));
}

bool GenerationBatcher::submit_all(std::vector<std::pair<GenerateRequest, Done>> group) {
  {
    std::lock_guard lock(mutex_);
    // Full when every batch slot is taken and max_waiting wait behind them.
    const auto in_line = active_count_ + static_cast<std::int64_t>(waiting_.size());
    if (in_line + static_cast<std::int64_t>(group.size()) > max_batch_ + max_waiting_) return false;
    for (auto& entry : group) waiting_.push_back(std::move(entry));
  }
  wake_.notify_one();
  return true;
}

StepTimes GenerationBatcher::step_times() const {
  std::lock_guard lock(mutex_);
  return step_times_;
}

std::int64_t GenerationBatcher::in_line() const {
  std::lock_guard lock(mutex_);
  return active_count_ + static_cast<std::int64_t>(waiting_.size());
}

void GenerationBatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GenerationBatcher::run() {
  std::vector<std::pair<GenerateRequest, Done>> joining;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      active_count_ = static_cast<std::int64_t>(active_.size());
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !active_.empty(); });
      if (stopping_ && waiting_.empty() && active_.empty()) return;
      while (static_cast<std::int64_t>(active_.size() + joining.size()) < max_batch_ && !waiting_.empty()) {
        joining.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      active_count_ = static_cast<std::int64_t>(active_.size() + joining.size());
    }
    join(joining);
    if (active_.empty()) continue;  // every joining request was refused
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu0 = thread_cpu_seconds();
    step_all();
    const double cpu = thread_cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    {
      std::lock_guard lock(mutex_);
      ++step_times_.steps;
      step_times_.wall_s += wall;
      step_times_.cpu_s += cpu;
    }
  }
}

// Validates each joining request against the model current now and starts
// its sequence; a request the model refuses is answered at once.
void GenerationBatcher::join(std::vector<std::pair<GenerateRequest, Done>>& joining) {
  for (auto& [request, done] : joining) {
    auto model = model_to_join(slot_.current());
    GenerationOutcome refused;
    try {
      if (!model) throw RequestError(503, "no model is loaded yet; try again shortly");
      const EncodedPrompt prompt = encode_generate_prompt(request, *model);
      const std::uint64_t seed = request.seed ? *request.seed : splitmix64(seed_base_ + seed_counter_++);
      auto active = std::make_unique<Active>(
          Active{model,
                 model->start(prompt.ids,
                              model->generate_options(request.sampling, prompt.max_tokens, request.ignore_eos), seed),
                 std::move(done)});
      active_.push_back(std::move(active));
      continue;
    } catch (const RequestError& e) {
      refused.status = e.status();
      refused.error = e.what();
    } catch (const Error& e) {
      refused.status = 400;
      refused.error = e.what();
    }
    refused.version = model ? model->version() : -1;
    done(std::move(refused));
  }
  joining.clear();
}

// Why the newest active version is never older than one handed out before:
// versions are handed out in order, and when a third would be needed the
// newest one handed out is still active (had all its requests ended, only
// one older version could remain, and the slot's newest would fit).
std::shared_ptr<const ServingModel> GenerationBatcher::model_to_join(std::shared_ptr<const ServingModel> newest) const {
  std::vector<const std::shared_ptr<const ServingModel>*> others;  // distinct active versions but `newest`
  for (const auto& a : active_) {
    if (a->model == newest) continue;
    if (std::none_of(others.begin(), others.end(), [&](const auto* m) { return *m == a->model; }))
      others.push_back(&a->model);
  }
  if (others.size() <= 1) return newest;
  return **std::max_element(others.begin(), others.end(),
                            [](const auto* x, const auto* y) { return (*x)->version() < (*y)->version(); });
}

// One token for every active request: one forward per model version among
// them (the active list keeps join order, so each group is in join order).
void GenerationBatcher::step_all() {
  std::vector<GenerationSequence*> group;
  std::vector<const ServingModel*> versions;
  for (const auto& a : active_)
    if (std::find(versions.begin(), versions.end(), a->model.get()) == versions.end())
      versions.push_back(a->model.get());
  for (const ServingModel* model : versions) {
    group.clear();
    for (const auto& a : active_)
      if (a->model.get() == model) group.push_back(&a->sequence);
    try {
      ++forwards_;
      model->step(group);
    } catch (const Error& e) {
      for (auto& a : active_) {
        if (a->model.get() != model || !a->done) continue;
        a->done(GenerationOutcome{500, fmt::format("generation failed with version {}: {}", model->version(), e.what()),
                                  "", 0, model->version()});
        a->done = nullptr;
      }
    }
  }
  std::erase_if(active_, [](const std::unique_ptr<Active>& a) {
    if (!a->done) return true;
    if (!a->sequence.done()) return false;
    const auto& ids = a->sequence.generated();
    GenerationOutcome outcome{200, "", "", static_cast<std::int64_t>(ids.size()), a->model->version()};
    try {
      outcome.text = a->model->tokenizer().decode(ids);
    } catch (const Error& e) {
      outcome = GenerationOutcome{500, fmt::format("decoding the completion failed: {}", e.what()), "", 0,
                                  a->model->version()};
    }
    a->done(std::move(outcome));
    return true;
  });
}

}  // namespace pouch
