// RelayGroup: one io_context with its threads, shared by every relay of a topology.
#include "wan/relay_group.h"

#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio.hpp>

namespace meridian::wan {

struct RelayGroup::Impl {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  mutable std::mutex mutex;  //!< guards relays and stopped
  std::vector<std::unique_ptr<LinkRelay>> relays;
  bool stopped = false;
};

RelayGroup::RelayGroup(size_t io_threads) : impl_(std::make_unique<Impl>()) {
  impl_->work.emplace(impl_->io.get_executor());
  if (io_threads == 0) io_threads = 1;
  for (size_t i = 0; i < io_threads; ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

RelayGroup::~RelayGroup() { Stop(); }

Result<size_t> RelayGroup::Add(RelayOptions options) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->stopped) return Unavailable("the relay group is stopped");
  auto relay = LinkRelay::Start(impl_->io, std::move(options));
  if (!relay.ok()) return relay.status();
  impl_->relays.push_back(std::move(*relay));
  return impl_->relays.size() - 1;
}

const LinkRelay& RelayGroup::Relay(size_t index) const {
  std::lock_guard lock(impl_->mutex);
  return *impl_->relays.at(index);
}

size_t RelayGroup::size() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->relays.size();
}

void RelayGroup::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& r : impl_->relays) r->Stop();
    impl_->work.reset();
    threads = std::move(impl_->threads);
  }
  // Closing posts handlers; give them up to a second to run out, then stop the rest.
  for (int i = 0; i < 100 && !impl_->io.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  impl_->io.stop();
  for (auto& t : threads) t.join();
}

}  // namespace meridian::wan
