#pragma once
// The model the server answers with now: one shared_ptr swapped whole. A
// reader copies the pointer (a snapshot) and keeps it as long as it needs;
// install() replaces it for later readers only.
#include <memory>
#include <mutex>

#include "serve/serving_model.h"

namespace pouch {

class ModelSlot {
 public:
  // Null until the first model is installed.
  std::shared_ptr<const ServingModel> current() const {
    std::lock_guard lock(mutex_);
    return model_;
  }
  void install(std::shared_ptr<const ServingModel> model) {
    std::shared_ptr<const ServingModel> old;
    {
      std::lock_guard lock(mutex_);
      old = std::exchange(model_, std::move(model));
    }
    // `old` is released here, outside the lock (freeing a model takes time).
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ServingModel> model_;
};

}  // namespace pouch
