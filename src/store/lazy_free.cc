#include "causalkv/store/lazy_free.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace causalkv::store {
namespace {

class Worker {
 public:
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void Enqueue(ValueType type, void* value) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
      queue_.emplace_back(type, value);
      pending_.fetch_add(1, std::memory_order_relaxed);
    }
    ready_.notify_one();
  }

  size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  size_t freed() const { return freed_.load(std::memory_order_relaxed); }

 private:
  void Run() {
    std::vector<std::pair<ValueType, void*>> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        batch.swap(queue_);
      }
      for (const auto& [type, value] : batch) {
        DestroyTypedValue(type, value);
        pending_.fetch_sub(1, std::memory_order_relaxed);
        freed_.fetch_add(1, std::memory_order_relaxed);
      }
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable ready_;
  std::vector<std::pair<ValueType, void*>> queue_;
  bool stopping_ = false;
  std::atomic<size_t> pending_{0};
  std::atomic<size_t> freed_{0};
  std::thread thread_;  // last: started after everything above exists
};

Worker& TheWorker() {
  static Worker worker;
  return worker;
}

}  // namespace

void FreeTypedValue(ValueType type, void* value) {
  if (TypedValueSize(type, value) <= kInlineFreeElements) {
    DestroyTypedValue(type, value);
    return;
  }
  TheWorker().Enqueue(type, value);
}

size_t LazyFreePending() { return TheWorker().pending(); }
size_t LazyFreed() { return TheWorker().freed(); }

}  // namespace causalkv::store
