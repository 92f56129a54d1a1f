// LinkRelay: accept loop, and per connection two delayed directions (see link_relay.h).
#include "wan/link_relay.h"

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <random>
#include <unordered_map>

#include <boost/asio.hpp>

#include "core/log.h"

namespace meridian::wan {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {

class Connection;

struct RelayShared {
  explicit RelayShared(asio::io_context& io_context)
      : io(io_context), acceptor_strand(asio::make_strand(io_context)), acceptor(acceptor_strand) {}
  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> acceptor_strand;  //!< the acceptor's handlers and close
  RelayOptions options;
  tcp::endpoint target;
  tcp::acceptor acceptor;
  uint16_t port = 0;
  std::atomic<uint64_t> accepted{0}, open{0}, connect_failures{0}, bytes_forward{0}, bytes_reverse{0};
  std::mutex mutex;  //!< guards connections and stopped
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections;
  uint64_t next_id = 0;
  bool stopped = false;
};

//! One relayed connection: direction 0 is client -> target, 1 is target -> client. Every handler
//! runs on the connection's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<RelayShared> shared, tcp::socket client, uint64_t id)
      : shared_(std::move(shared)),
        id_(id),
        strand_(asio::make_strand(shared_->io)),
        client_(std::move(client)),
        upstream_(strand_),
        dirs_{Direction(strand_), Direction(strand_)},
        rng_(std::random_device{}()) {}

  void Start() {
    const LinkConfig& link = shared_->options.link;
    const auto now = Clock::now();
    accepted_at_ = now;
    // The handshake: the client's first data leaves one RTT after its SYN, and the target can
    // answer no earlier than the SYN reached it.
    dirs_[0].not_before = link.emulate_handshake ? now + link.rtt() : now;
    dirs_[1].not_before = link.emulate_handshake ? now + link.forward_delay : now;
    dirs_[0].delay = link.forward_delay;
    dirs_[1].delay = link.reverse_delay;
    dirs_[0].from = &client_;
    dirs_[0].to = &upstream_;
    dirs_[1].from = &upstream_;
    dirs_[1].to = &client_;
    dirs_[0].counter = &shared_->bytes_forward;
    dirs_[1].counter = &shared_->bytes_reverse;
    size_t read_size = 16 * 1024;
    if (link.bandwidth_bytes_per_s > 0) {  // ~1 ms of the link per chunk, so the cap paces smoothly
      read_size = std::clamp<size_t>(static_cast<size_t>(link.bandwidth_bytes_per_s / 1000), 512, read_size);
    }
    for (auto& d : dirs_) d.read_size = read_size;
    boost::system::error_code ignored;
    client_.set_option(tcp::no_delay(true), ignored);
    asio::dispatch(strand_, [self = shared_from_this()] {
      self->upstream_.async_connect(shared_target(self), asio::bind_executor(self->strand_, [self](
                                                                                 const boost::system::error_code& ec) {
                                      self->OnUpstreamConnected(ec);
                                    }));
      self->StartRead(0);
    });
  }

  //! Closes both sides from any thread.
  void CloseFromOutside() {
    asio::post(strand_, [self = shared_from_this()] { self->Close(); });
  }

 private:
  struct Chunk {
    Clock::time_point release;
    std::string data;
    bool eof = false;
  };
  struct Direction {
    explicit Direction(asio::strand<asio::io_context::executor_type>& strand) : timer(strand) {}
    tcp::socket* from = nullptr;
    tcp::socket* to = nullptr;
    std::atomic<uint64_t>* counter = nullptr;
    std::chrono::microseconds delay{0};
    Clock::time_point not_before{};
    Clock::time_point tx_free_at{};    //!< when the (capped) link finishes sending what it has
    Clock::time_point last_release{};  //!< releases never go backwards: TCP keeps order
    std::deque<Chunk> queue;
    size_t queued_bytes = 0;
    bool reading = false, writing = false, read_done = false, finished = false;
    asio::steady_timer timer;
    std::array<char, 16 * 1024> buf{};
    size_t read_size = 16 * 1024;
  };

  static tcp::endpoint shared_target(const std::shared_ptr<Connection>& self) { return self->shared_->target; }

  void OnUpstreamConnected(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      shared_->connect_failures.fetch_add(1, std::memory_order_relaxed);
      // A refused connection: the client learns it (a reset) one RTT after it tried, as on a link.
      auto& timer = dirs_[0].timer;
      timer.expires_at(shared_->options.link.emulate_handshake ? accepted_at_ + shared_->options.link.rtt()
                                                               : Clock::now());
      timer.async_wait([self = shared_from_this()](const boost::system::error_code&) {
        boost::system::error_code ignored;
        self->client_.set_option(asio::socket_base::linger(true, 0), ignored);
        self->Close();
      });
      return;
    }
    upstream_ready_ = true;
    boost::system::error_code ignored;
    upstream_.set_option(tcp::no_delay(true), ignored);
    StartRead(1);
    MaybeWrite(0);
  }

  void StartRead(int d) {
    Direction& dir = dirs_[d];
    if (closed_ || dir.reading || dir.read_done) return;
    if (dir.queued_bytes >= shared_->options.max_buffered_bytes) return;  // resumed after a write
    dir.reading = true;
    dir.from->async_read_some(asio::buffer(dir.buf.data(), dir.read_size),
                              asio::bind_executor(strand_, [self = shared_from_this(), d](
                                                               const boost::system::error_code& ec, size_t n) {
                                self->OnRead(d, ec, n);
                              }));
  }

  //! When `bytes` read now arrive at the other end of the link.
  Clock::time_point ReleaseTime(int d, size_t bytes) {
    const LinkConfig& link = shared_->options.link;
    Direction& dir = dirs_[d];
    Clock::time_point sent = std::max(Clock::now(), dir.not_before);
    if (link.bandwidth_bytes_per_s > 0) {
      const auto start = std::max(sent, dir.tx_free_at);
      const auto serialization = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(bytes) / link.bandwidth_bytes_per_s));
      dir.tx_free_at = start + serialization;
      sent = dir.tx_free_at;
    }
    Clock::time_point release = sent + dir.delay;
    if (link.jitter.count() > 0) {
      std::uniform_int_distribution<int64_t> extra(0, link.jitter.count());
      release += std::chrono::microseconds(extra(rng_));
    }
    release = std::max(release, dir.last_release);
    dir.last_release = release;
    return release;
  }

  void OnRead(int d, const boost::system::error_code& ec, size_t n) {
    Direction& dir = dirs_[d];
    dir.reading = false;
    if (closed_) return;
    if (ec) {  // EOF or a reset: deliver what is queued, then the FIN, after the link's delay
      dir.read_done = true;
      dir.queue.push_back(Chunk{ReleaseTime(d, 0), {}, true});
    } else {
      dir.queue.push_back(Chunk{ReleaseTime(d, n), std::string(dir.buf.data(), n), false});
      dir.queued_bytes += n;
      StartRead(d);
    }
    MaybeWrite(d);
  }

  void MaybeWrite(int d) {
    Direction& dir = dirs_[d];
    if (closed_ || dir.writing || dir.queue.empty()) return;
    if (d == 0 && !upstream_ready_) return;
    dir.writing = true;
    dir.timer.expires_at(dir.queue.front().release);
    dir.timer.async_wait([self = shared_from_this(), d](const boost::system::error_code& ec) {
      self->OnReleased(d, ec);
    });
  }

  void OnReleased(int d, const boost::system::error_code& ec) {
    Direction& dir = dirs_[d];
    if (closed_ || ec) {
      dir.writing = false;
      return;
    }
    Chunk& chunk = dir.queue.front();
    if (chunk.eof) {
      boost::system::error_code ignored;
      dir.to->shutdown(tcp::socket::shutdown_send, ignored);
      dir.queue.pop_front();
      dir.writing = false;
      dir.finished = true;
      if (dirs_[0].finished && dirs_[1].finished) Close();
      return;
    }
    asio::async_write(*dir.to, asio::buffer(chunk.data),
                      asio::bind_executor(strand_, [self = shared_from_this(), d](
                                                       const boost::system::error_code& ec, size_t n) {
                        self->OnWritten(d, ec, n);
                      }));
  }

  void OnWritten(int d, const boost::system::error_code& ec, size_t n) {
    Direction& dir = dirs_[d];
    dir.writing = false;
    if (closed_) return;
    if (ec) {  // the receiving side is gone: so is the connection
      Close();
      return;
    }
    dir.counter->fetch_add(n, std::memory_order_relaxed);
    dir.queued_bytes -= dir.queue.front().data.size();
    dir.queue.pop_front();
    StartRead(d);
    MaybeWrite(d);
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    for (auto& d : dirs_) d.timer.cancel();
    client_.close(ignored);
    upstream_.close(ignored);
    shared_->open.fetch_sub(1, std::memory_order_relaxed);
    std::lock_guard lock(shared_->mutex);
    shared_->connections.erase(id_);
  }

  std::shared_ptr<RelayShared> shared_;
  const uint64_t id_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::socket client_;
  tcp::socket upstream_;
  std::array<Direction, 2> dirs_;
  std::mt19937_64 rng_;
  Clock::time_point accepted_at_{};
  bool upstream_ready_ = false;
  bool closed_ = false;
};

namespace {

void Accept(const std::shared_ptr<RelayShared>& shared) {
  shared->acceptor.async_accept(asio::make_strand(shared->io), [shared](const boost::system::error_code& ec,
                                                                        tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    std::shared_ptr<Connection> connection;
    {
      std::lock_guard lock(shared->mutex);
      if (shared->stopped) return;
      if (!ec) {
        const uint64_t id = shared->next_id++;
        connection = std::make_shared<Connection>(shared, std::move(socket), id);
        shared->connections.emplace(id, connection);
        shared->accepted.fetch_add(1, std::memory_order_relaxed);
        shared->open.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (connection) connection->Start();
    if (ec) {  // e.g. out of file descriptors: log, pause, go on
      log::Warn("wan relay accept failed", {{"relay", shared->options.name}, {"error", ec.message()}});
      auto timer = std::make_shared<asio::steady_timer>(shared->acceptor_strand, std::chrono::milliseconds(50));
      timer->async_wait([shared, timer](const boost::system::error_code&) { Accept(shared); });
      return;
    }
    Accept(shared);
  });
}

}  // namespace
}  // namespace detail

Result<std::unique_ptr<LinkRelay>> LinkRelay::Start(asio::io_context& io, RelayOptions options) {
  const LinkConfig& link = options.link;
  if (link.forward_delay.count() < 0 || link.reverse_delay.count() < 0 || link.jitter.count() < 0) {
    return InvalidArgument("relay " + options.name + ": delays and jitter must not be negative");
  }
  if (!(link.bandwidth_bytes_per_s >= 0)) {
    return InvalidArgument("relay " + options.name + ": the bandwidth must not be negative");
  }
  if (options.target_port == 0) return InvalidArgument("relay " + options.name + ": no target port");
  auto shared = std::make_shared<detail::RelayShared>(io);
  boost::system::error_code ec;
  tcp::resolver resolver(io);
  auto targets = resolver.resolve(options.target_host, std::to_string(options.target_port), ec);
  if (ec || targets.empty()) {
    return Unavailable("relay " + options.name + ": cannot resolve " + options.target_host + ": " + ec.message());
  }
  shared->target = targets.begin()->endpoint();
  auto listens = resolver.resolve(options.listen_host, std::to_string(options.listen_port), ec);
  if (ec || listens.empty()) {
    return Unavailable("relay " + options.name + ": cannot resolve " + options.listen_host + ": " + ec.message());
  }
  const tcp::endpoint listen = listens.begin()->endpoint();
  shared->acceptor.open(listen.protocol(), ec);
  if (!ec) shared->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) shared->acceptor.bind(listen, ec);
  if (!ec) shared->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("relay " + options.name + ": cannot listen on " + options.listen_host + ":" +
                       std::to_string(options.listen_port) + ": " + ec.message());
  }
  shared->port = shared->acceptor.local_endpoint().port();
  shared->options = std::move(options);
  detail::Accept(shared);
  return std::unique_ptr<LinkRelay>(new LinkRelay(std::move(shared)));
}

LinkRelay::~LinkRelay() { Stop(); }

uint16_t LinkRelay::port() const { return shared_->port; }
const RelayOptions& LinkRelay::options() const { return shared_->options; }

RelayStats LinkRelay::Stats() const {
  RelayStats s;
  s.connections_accepted = shared_->accepted.load();
  s.connections_open = shared_->open.load();
  s.upstream_connect_failures = shared_->connect_failures.load();
  s.bytes_forward = shared_->bytes_forward.load();
  s.bytes_reverse = shared_->bytes_reverse.load();
  return s;
}

void LinkRelay::Stop() {
  std::vector<std::shared_ptr<detail::Connection>> live;
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopped) return;
    shared_->stopped = true;
    for (auto& [id, weak] : shared_->connections) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  asio::post(shared_->acceptor_strand, [shared = shared_] {
    boost::system::error_code ignored;
    shared->acceptor.close(ignored);
  });
  for (auto& c : live) c->CloseFromOutside();
}

}  // namespace meridian::wan
