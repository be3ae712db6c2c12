#include "model/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/error.h"

namespace pouch {

std::int32_t sample_token(const float* logits, std::int64_t vocab, const SamplingOptions& opt, RngStream& rng) {
  POUCH_CHECK(vocab > 0, "empty vocabulary");
  if (opt.temperature <= 0.0f) return static_cast<std::int32_t>(std::max_element(logits, logits + vocab) - logits);

  std::vector<std::int32_t> order(static_cast<std::size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  // Stable sort by descending logit: ties keep token order, so sampling is reproducible.
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b]; });
  std::size_t keep = order.size();
  if (opt.top_k > 0) keep = std::min<std::size_t>(keep, static_cast<std::size_t>(opt.top_k));

  std::vector<double> prob(keep);
  const double top = logits[order[0]];
  double sum = 0.0;
  for (std::size_t i = 0; i < keep; ++i) {
    prob[i] = std::exp((logits[order[i]] - top) / opt.temperature);
    sum += prob[i];
  }
  if (opt.top_p < 1.0f) {
    double cumulative = 0.0;
    std::size_t n = 0;
    while (n < keep) {
      cumulative += prob[n] / sum;
      ++n;
      if (cumulative >= opt.top_p) break;
    }
    keep = n;
    sum = std::accumulate(prob.begin(), prob.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  const double u = static_cast<double>(rng.uniform()) * sum;
  double acc = 0.0;
  for (std::size_t i = 0; i < keep; ++i) {
    acc += prob[i];
    if (u < acc) return order[i];
  }
  return order[keep - 1];
}

}  // namespace pouch
