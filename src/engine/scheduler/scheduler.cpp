// Scheduler: the engine loop of continuous batching (admission, chunked prefill, decode,
// cancellation, deadlines) and the load report.
#include "engine/scheduler/scheduler.h"

#include <algorithm>

#include "engine/sampling/stop_matcher.h"

namespace meridian::engine {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone: return "none";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kDeadline: return "deadline";
    case FinishReason::kError: return "error";
  }
  return "none";
}

struct Scheduler::Sequence {
  uint64_t id = 0;
  GenerationRequest req;
  SteadyTime submitted;
  double queue_seconds = 0.0;
  std::vector<int32_t> blocks;
  int32_t n_past = 0;           //!< tokens in the KV cache
  int32_t pending_token = -1;   //!< sampled but not yet in the KV cache
  int32_t completion_tokens = 0;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<IncrementalDetokenizer> detok;
  std::unique_ptr<StopMatcher> stops;
  bool finished = false;

  int32_t prompt_size() const { return static_cast<int32_t>(req.prompt.size()); }
  bool prefilling() const { return n_past < prompt_size(); }
};

Scheduler::Scheduler(const Model& model, Backend& backend, const SchedulerOptions& options)
    : model_(model),
      backend_(backend),
      options_(options),
      blocks_(backend.kv_blocks_total(), backend.kv_block_tokens()) {
  options_.max_running = std::max(1, options_.max_running);
  options_.max_waiting = std::max(0, options_.max_waiting);
  options_.max_batch_tokens = std::max(options_.max_running + 1, options_.max_batch_tokens);
  logits_.resize(static_cast<size_t>(model.config().n_vocab) * static_cast<size_t>(options_.max_running));
  load_.kv_blocks_total = blocks_.blocks_total();
  load_.kv_blocks_free = blocks_.blocks_free();
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<std::unique_ptr<Sequence>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
  }
  for (auto& seq : running_) {
    if (!seq->finished) Finish(*seq, FinishReason::kCancelled);
  }
  running_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_count_ = 0;
  }
  for (auto& seq : waiting) Finish(*seq, FinishReason::kCancelled);
}

bool Scheduler::QueueFull() const {
  const int32_t free_slots = std::max(0, options_.max_running - running_count_);
  return static_cast<int32_t>(waiting_.size()) + 1 - free_slots > options_.max_waiting;
}

Result<uint64_t> Scheduler::Submit(GenerationRequest request) {
  const LlamaConfig& c = model_.config();
  const auto prompt = static_cast<int64_t>(request.prompt.size());
  if (prompt == 0) return InvalidArgument("the prompt is empty");
  if (request.max_tokens < 1) return InvalidArgument("max_tokens must be at least 1");
  if (prompt + request.max_tokens > c.context_length) {
    return InvalidArgument("the prompt (" + std::to_string(prompt) + " tokens) plus max_tokens (" +
                           std::to_string(request.max_tokens) + ") exceeds the context length of " +
                           std::to_string(c.context_length) + " tokens");
  }
  if (blocks_.BlocksFor(prompt + request.max_tokens) > blocks_.blocks_total()) {
    return InvalidArgument("the request needs more KV cache than this server has (" +
                           std::to_string(blocks_.blocks_total() * blocks_.block_tokens()) + " tokens)");
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= c.n_vocab) return InvalidArgument("token id " + std::to_string(t) + " is out of range");
  }
  MERIDIAN_RETURN_IF_ERROR(request.sampling.Validate());
  auto seq = std::make_unique<Sequence>();
  seq->submitted = std::chrono::steady_clock::now();
  seq->sampler = std::make_unique<Sampler>(request.sampling, c.n_vocab);
  seq->sampler->SetPrompt(request.prompt);
  // Generated text continues the prompt: keep the space of its first word.
  seq->detok = std::make_unique<IncrementalDetokenizer>(model_.tokenizer(), /*strip_leading_space=*/false);
  seq->stops = std::make_unique<StopMatcher>(request.stop);
  seq->req = std::move(request);
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Unavailable("the server is shutting down");
    // The queue limit counts the requests that will actually wait: those beyond the running slots
    // that are free now (the engine loop may not have admitted a burst yet).
    if (QueueFull()) {
      return ResourceExhausted("the request queue is full (" + std::to_string(options_.max_waiting) +
                               " waiting); retry later");
    }
    id = next_id_++;
    seq->id = id;
    waiting_.push_back(std::move(seq));
    load_.waiting = static_cast<int32_t>(waiting_.size());
    load_.saturated = QueueFull();
  }
  wake_.notify_one();
  return id;
}

void Scheduler::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.insert(id);
  }
  wake_.notify_one();
}

LoadReport Scheduler::Load() const {
  std::lock_guard<std::mutex> lock(mu_);
  return load_;
}

void Scheduler::Finish(Sequence& seq, FinishReason reason, Status error) {
  if (seq.finished) return;
  seq.finished = true;
  blocks_.Release(seq.blocks);
  GenerationEvent ev;
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) {
    auto out = seq.stops->Push(seq.detok->Flush());
    ev.text = out.text;
    if (!out.stopped) ev.text += seq.stops->Flush();
  }
  ev.finish = reason;
  ev.error = std::move(error);
  ev.prompt_tokens = seq.prompt_size();
  ev.completion_tokens = seq.completion_tokens;
  ev.queue_seconds = seq.queue_seconds;
  if (seq.req.on_event) seq.req.on_event(ev);
}

void Scheduler::EmitToken(Sequence& seq, int32_t token) {
  seq.sampler->Accept(token);
  ++seq.completion_tokens;
  if (model_.tokenizer().IsEndOfGeneration(token)) {
    Finish(seq, FinishReason::kStop);
    return;
  }
  auto out = seq.stops->Push(seq.detok->Push(token));
  GenerationEvent ev;
  ev.text = std::move(out.text);
  ev.token = token;
  ev.prompt_tokens = seq.prompt_size();
  ev.completion_tokens = seq.completion_tokens;
  ev.queue_seconds = seq.queue_seconds;
  if (out.stopped) {
    // The text before the stop string goes out with the final event.
    seq.finished = true;
    blocks_.Release(seq.blocks);
    ev.finish = FinishReason::kStop;
    ev.token = token;
    if (seq.req.on_event) seq.req.on_event(ev);
    return;
  }
  if (seq.req.on_event) seq.req.on_event(ev);
  if (seq.completion_tokens >= seq.req.max_tokens) {
    Finish(seq, FinishReason::kLength);
    return;
  }
  seq.pending_token = token;
}

void Scheduler::Admit() {
  const auto now = std::chrono::steady_clock::now();
  while (static_cast<int32_t>(running_.size()) < options_.max_running) {
    std::unique_ptr<Sequence> seq;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiting_.empty()) return;
      const Sequence& head = *waiting_.front();
      // Reserve the whole sequence up front: a running sequence never waits for blocks, so no
      // preemption is needed. First come, first served: the head waits for room.
      const int64_t tokens = static_cast<int64_t>(head.req.prompt.size()) + head.req.max_tokens;
      if (blocks_.BlocksFor(tokens) > blocks_.blocks_free()) return;
      seq = std::move(waiting_.front());
      waiting_.pop_front();
      running_count_ = static_cast<int32_t>(running_.size()) + 1;  // the one being admitted
    }
    const int64_t tokens = seq->prompt_size() + static_cast<int64_t>(seq->req.max_tokens);
    Status s = blocks_.Reserve(seq->blocks, tokens);
    seq->queue_seconds = std::chrono::duration<double>(now - seq->submitted).count();
    if (!s.ok()) {
      Finish(*seq, FinishReason::kError, s);
      continue;
    }
    running_.push_back(std::move(seq));
  }
}

bool Scheduler::Step() {
  // Cancellations and deadlines, for waiting and running sequences.
  std::unordered_set<uint64_t> cancelled;
  std::vector<std::unique_ptr<Sequence>> dropped;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled.swap(cancelled_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (cancelled.count((*it)->id) || (*it)->req.deadline <= now) {
        dropped.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& seq : dropped) {
    seq->queue_seconds = std::chrono::duration<double>(now - seq->submitted).count();
    Finish(*seq, cancelled.count(seq->id) ? FinishReason::kCancelled : FinishReason::kDeadline,
           cancelled.count(seq->id) ? Status() : Status(StatusCode::kDeadlineExceeded, "deadline exceeded in queue"));
  }
  for (auto& seq : running_) {
    if (cancelled.count(seq->id)) {
      Finish(*seq, FinishReason::kCancelled);
    } else if (seq->req.deadline <= now) {
      Finish(*seq, FinishReason::kDeadline, Status(StatusCode::kDeadlineExceeded, "deadline exceeded"));
    }
  }
  std::erase_if(running_, [](const auto& s) { return s->finished; });

  Admit();

  // Build the batch: one token for each decoding sequence, then prefill chunks within budget.
  std::vector<SequenceStep> steps;
  std::vector<Sequence*> owners;
  int32_t budget = options_.max_batch_tokens;
  int64_t decode_tokens = 0, prefill_tokens = 0;
  for (auto& seq : running_) {
    if (seq->prefilling()) continue;
    SequenceStep st;
    st.tokens = {&seq->pending_token, 1};
    st.n_past = seq->n_past;
    st.kv_blocks = seq->blocks;
    st.logits = LogitsMode::kLast;
    steps.push_back(st);
    owners.push_back(seq.get());
    --budget;
    ++decode_tokens;
  }
  for (auto& seq : running_) {
    if (!seq->prefilling() || budget <= 0) continue;
    const int32_t len = std::min(budget, seq->prompt_size() - seq->n_past);
    SequenceStep st;
    st.tokens = std::span<const int32_t>(seq->req.prompt).subspan(static_cast<size_t>(seq->n_past),
                                                                   static_cast<size_t>(len));
    st.n_past = seq->n_past;
    st.kv_blocks = seq->blocks;
    st.logits = seq->n_past + len == seq->prompt_size() ? LogitsMode::kLast : LogitsMode::kNone;
    steps.push_back(st);
    owners.push_back(seq.get());
    budget -= len;
    prefill_tokens += len;
  }

  if (!steps.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    Status s = backend_.Forward(steps, logits_.data());
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      for (Sequence* seq : owners) Finish(*seq, FinishReason::kError, s);
    } else {
      constexpr double kAlpha = 0.2;
      ewma_step_s_ = ewma_step_s_ == 0.0 ? dt : (1 - kAlpha) * ewma_step_s_ + kAlpha * dt;
      const double step_rate = static_cast<double>(prefill_tokens + decode_tokens) / dt;
      ewma_step_tok_s_ = ewma_step_tok_s_ == 0.0 ? step_rate : (1 - kAlpha) * ewma_step_tok_s_ + kAlpha * step_rate;
      if (prefill_tokens >= kMinPrefillSampleTokens) {
        ewma_prefill_tok_s_ =
            ewma_prefill_tok_s_ == 0.0 ? step_rate : (1 - kAlpha) * ewma_prefill_tok_s_ + kAlpha * step_rate;
      } else if (prefill_tokens == 0) {
        const double rate = static_cast<double>(decode_tokens) / dt;
        ewma_decode_tok_s_ = ewma_decode_tok_s_ == 0.0 ? rate : (1 - kAlpha) * ewma_decode_tok_s_ + kAlpha * rate;
      }
      const size_t n_vocab = static_cast<size_t>(model_.config().n_vocab);
      size_t row = 0;
      for (size_t i = 0; i < steps.size(); ++i) {
        Sequence& seq = *owners[i];
        seq.n_past += static_cast<int32_t>(steps[i].tokens.size());
        if (steps[i].logits != LogitsMode::kLast) continue;
        std::span<float> logits(logits_.data() + row * n_vocab, n_vocab);
        ++row;
        seq.pending_token = -1;
        EmitToken(seq, seq.sampler->Sample(logits));
      }
    }
    std::erase_if(running_, [](const auto& s) { return s->finished; });
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_count_ = static_cast<int32_t>(running_.size());
  }

  // Publish the load report.
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t waiting_prompt_tokens = 0;
    for (const auto& seq : waiting_) waiting_prompt_tokens += seq->prompt_size();
    load_.running = static_cast<int32_t>(running_.size());
    load_.waiting = static_cast<int32_t>(waiting_.size());
    load_.kv_blocks_free = blocks_.blocks_free();
    load_.kv_blocks_total = blocks_.blocks_total();
    load_.prefill_tok_s = ewma_prefill_tok_s_;
    load_.decode_tok_s = ewma_decode_tok_s_;
    load_.saturated = QueueFull();
    double wait_s = 0.0;
    if (!waiting_.empty()) {
      const double prefill_rate = ewma_prefill_tok_s_ > 0.0 ? ewma_prefill_tok_s_ : ewma_step_tok_s_;
      wait_s += static_cast<double>(waiting_prompt_tokens) / std::max(prefill_rate, 1.0);
      if (load_.running >= options_.max_running) {
        // A slot opens when the running sequence closest to its end finishes.
        int32_t fewest = INT32_MAX;
        for (const auto& seq : running_) fewest = std::min(fewest, seq->req.max_tokens - seq->completion_tokens);
        wait_s += fewest * std::max(ewma_step_s_, 1e-4);
      }
    }
    load_.estimated_queue_wait_ms = wait_s * 1000.0;
  }
  return !steps.empty();
}

void Scheduler::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (Step()) continue;
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty() || !cancelled_.empty(); });
  }
}

}  // namespace meridian::engine
