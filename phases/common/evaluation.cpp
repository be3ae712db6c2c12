#include "phases/common/evaluation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

namespace {

// Batches of validation loss per eval: enough windows for a stable number,
// few enough that evals stay a small share of a short run.
constexpr std::int64_t kValBatches = 8;

}  // namespace

void sum_over_dp(const TrainRanks& ranks, Backend& /*be*/, std::vector<double>& values) {
  if (ranks.dp_size() == 1) return;
  Tensor t = Tensor::empty({static_cast<std::int64_t>(values.size())}, DType::F64);
  std::copy(values.begin(), values.end(), t.data<double>());
  ranks.dp->all_reduce(t, ReduceOp::Sum);
  std::copy(t.data<double>(), t.data<double>() + values.size(), values.begin());
}

void fill_batch(const SequenceLoader& source, std::int64_t first_sequence, std::int64_t vocab, const Tensor& x,
                const Tensor& y) {
  const std::int64_t B = x.dim(0), T = x.dim(1);
  for (std::int64_t b = 0; b < B; ++b) source.sequence(first_sequence + b, x.i32() + b * T, y.i32() + b * T);
  const std::int32_t* xs = x.i32();
  const std::int32_t* ys = y.i32();
  for (std::int64_t i = 0; i < B * T; ++i) {
    if (xs[i] < 0 || xs[i] >= vocab || ys[i] < 0 || ys[i] >= vocab)
      fail(
          "{}: token id {} is outside the model's vocabulary [0, {}); set [model] vocab_size to at least the "
          "tokenizer's vocabulary",
          source.source().name(), xs[i] < 0 || xs[i] >= vocab ? xs[i] : ys[i], vocab);
  }
}

std::vector<LevelAccuracy> evaluate_levels(GPT& model, const CharTokenizer& tokenizer, const RunConfig& cfg,
                                           const TrainRanks& ranks, const std::vector<int>& levels) {
  std::vector<LevelAccuracy> out;
  for (int level : levels) {
    auto one = evaluate_task_accuracy(model, tokenizer, level, level, cfg.data.task_eval_per_level, cfg.train.seed,
                                      ranks.dp_rank(), ranks.dp_size());
    out.push_back(one.front());
  }
  std::vector<double> counts;
  for (const auto& l : out) counts.insert(counts.end(), {double(l.total), double(l.correct), double(l.well_formed)});
  sum_over_dp(ranks, model.backend(), counts);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].total = static_cast<std::int64_t>(counts[3 * i]);
    out[i].correct = static_cast<std::int64_t>(counts[3 * i + 1]);
    out[i].well_formed = static_cast<std::int64_t>(counts[3 * i + 2]);
  }
  return out;
}

EvalResult evaluate(GPT& model, const TrainingData& data, const RunConfig& cfg, const TrainRanks& ranks,
                    std::int64_t step, const Tensor& x, const Tensor& y, const std::vector<int>& levels) {
  Backend& be = model.backend();
  EvalResult r;
  r.step = step;
  if (data.val) {
    // The same global validation batches whatever the layout, split over dp like training.
    const std::int64_t B_local = x.dim(0), B = B_local * ranks.dp_size();
    const std::int64_t batches = std::max<std::int64_t>(1, std::min(kValBatches, data.val->num_windows() / B));
    std::vector<double> sums = {0.0, 0.0};
    for (std::int64_t i = 0; i < batches; ++i) {
      fill_batch(*data.val, i * B + ranks.dp_rank() * B_local, cfg.model.vocab_size, x, y);
      model.forward_deferred(x, y);
      sums[0] += model.last_loss_sum();  // the eval batch's one host sync
      sums[1] += static_cast<double>(model.last_loss_count());
    }
    sum_over_dp(ranks, be, sums);
    r.val_loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  }
  if (data.task_tokenizer) {
    std::vector<int> wanted = levels;
    if (wanted.empty())
      for (int l = 1; l <= static_cast<int>(cfg.data.task_max_level); ++l) wanted.push_back(l);
    r.levels = evaluate_levels(model, *data.task_tokenizer, cfg, ranks, wanted);
  }
  return r;
}

std::string format_eval(const EvalResult& e) {
  std::string s = fmt::format("eval step {}", e.step);
  if (!std::isnan(e.val_loss)) s += fmt::format(" | val_loss {:.4f}", e.val_loss);
  if (!e.levels.empty()) {
    s += " | accuracy";
    for (const auto& l : e.levels) s += fmt::format(" L{} {:.0f}%", l.level, 100.0 * l.accuracy());
    s += fmt::format(" | overall {:.1f}%", 100.0 * overall_accuracy(e.levels));
  }
  return s;
}

void add_eval_fields(nlohmann::json& j, const EvalResult& e) {
  if (!std::isnan(e.val_loss)) j["val_loss"] = e.val_loss;
  if (e.levels.empty()) return;
  j["eval_accuracy"] = overall_accuracy(e.levels);
  for (const auto& l : e.levels) {
    j[fmt::format("eval_accuracy_l{}", l.level)] = l.accuracy();
    j[fmt::format("eval_well_formed_l{}", l.level)] =
        l.total > 0 ? static_cast<double>(l.well_formed) / static_cast<double>(l.total) : 0.0;
  }
}

}  // namespace pouch
