// Metrics registry and the Prometheus text exposition format.
#include "core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace meridian::metrics {
namespace {

template <typename T>
std::unique_ptr<T> MakeChild(const std::vector<double>& bounds) {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(bounds);
  } else {
    return std::make_unique<T>();
  }
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out.push_back(',');
    first = false;
    out += names[i];
    out += "=\"";
    AppendLabelValue(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendHelp(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void CheckLabelNames(const std::string& metric, const std::vector<std::string>& labels, bool histogram) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!IsValidLabelName(labels[i])) {
      throw std::invalid_argument("metric " + metric + ": invalid label name '" + labels[i] + "'");
    }
    if (histogram && labels[i] == "le") {
      throw std::invalid_argument("metric " + metric + ": a histogram cannot have a label named 'le'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[i] == labels[j])
        throw std::invalid_argument("metric " + metric + ": duplicate label " + labels[i]);
    }
  }
}

}  // namespace

void Counter::Inc(double amount) {
  if (!(amount > 0.0)) return;  // also rejects NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <typename T>
T& Family<T>::WithLabels(std::initializer_list<std::string_view> values) {
  std::vector<std::string> v;
  v.reserve(values.size());
  for (std::string_view s : values) v.emplace_back(s);
  return FindOrCreate(std::move(v));
}

template <typename T>
T& Family<T>::WithLabels(std::span<const std::string> values) {
  return FindOrCreate(std::vector<std::string>(values.begin(), values.end()));
}

template <typename T>
T& Family<T>::FindOrCreate(std::vector<std::string> values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " + std::to_string(label_names_.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto& slot = children_[std::move(values)];
  if (!slot) slot = MakeChild<T>(bounds_);
  return *slot;
}

template <typename T>
void Family<T>::AppendTo(std::string& out, MetricType type) const {
  out += "# HELP ";
  out += name_;
  out.push_back(' ');
  AppendHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out.push_back(' ');
  out += TypeName(type);
  out.push_back('\n');
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const Histogram::Snapshot s = child->Read();
      for (size_t i = 0; i < s.cumulative.size(); ++i) {
        std::string le;
        if (i < bounds_.size()) {
          AppendValue(le, bounds_[i]);
        } else {
          le = "+Inf";
        }
        out += name_;
        out += "_bucket";
        AppendLabels(out, label_names_, values, "le", le);
        out.push_back(' ');
        out += std::to_string(s.cumulative[i]);
        out.push_back('\n');
      }
      out += name_;
      out += "_sum";
      AppendLabels(out, label_names_, values);
      out.push_back(' ');
      AppendValue(out, s.sum);
      out.push_back('\n');
      out += name_;
      out += "_count";
      AppendLabels(out, label_names_, values);
      out.push_back(' ');
      out += std::to_string(s.count);
      out.push_back('\n');
    } else {
      out += name_;
      AppendLabels(out, label_names_, values);
      out.push_back(' ');
      AppendValue(out, child->Value());
      out.push_back('\n');
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Entry* Registry::FindLocked(const std::string& name) {
  for (Entry& e : entries_) {
    const std::string& n = e.counter ? e.counter->name() : e.gauge ? e.gauge->name() : e.histogram->name();
    if (n == name) return &e;
  }
  return nullptr;
}

CounterFamily& Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names) {
  if (!IsValidMetricName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  CheckLabelNames(name, label_names, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name)) {
    if (e->type != MetricType::kCounter || e->counter->label_names() != label_names) {
      throw std::invalid_argument("metric " + name + " is already registered with another type or labels");
    }
    return *e->counter;
  }
  Entry e{MetricType::kCounter, nullptr, nullptr, nullptr};
  e.counter.reset(new CounterFamily(name, help, std::move(label_names), {}));
  entries_.push_back(std::move(e));
  return *entries_.back().counter;
}

GaugeFamily& Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names) {
  if (!IsValidMetricName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  CheckLabelNames(name, label_names, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name)) {
    if (e->type != MetricType::kGauge || e->gauge->label_names() != label_names) {
      throw std::invalid_argument("metric " + name + " is already registered with another type or labels");
    }
    return *e->gauge;
  }
  Entry e{MetricType::kGauge, nullptr, nullptr, nullptr};
  e.gauge.reset(new GaugeFamily(name, help, std::move(label_names), {}));
  entries_.push_back(std::move(e));
  return *entries_.back().gauge;
}

HistogramFamily& Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<double> bounds, std::vector<std::string> label_names) {
  if (!IsValidMetricName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  CheckLabelNames(name, label_names, true);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      throw std::invalid_argument("metric " + name +
                                  ": bucket bounds must be finite and strictly increasing");
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (Entry* e = FindLocked(name)) {
    if (e->type != MetricType::kHistogram || e->histogram->label_names() != label_names ||
        e->histogram->bounds_ != bounds) {
      throw std::invalid_argument("metric " + name +
                                  " is already registered with another type, labels or buckets");
    }
    return *e->histogram;
  }
  Entry e{MetricType::kHistogram, nullptr, nullptr, nullptr};
  e.histogram.reset(new HistogramFamily(name, help, std::move(label_names), std::move(bounds)));
  entries_.push_back(std::move(e));
  return *entries_.back().histogram;
}

void Registry::AddCollector(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Expose() const {
  std::lock_guard<std::mutex> expose_lock(expose_mu_);
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) collect();
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    switch (e.type) {
      case MetricType::kCounter: e.counter->AppendTo(out, e.type); break;
      case MetricType::kGauge: e.gauge->AppendTo(out, e.type); break;
      case MetricType::kHistogram: e.histogram->AppendTo(out, e.type); break;
    }
  }
  return out;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AppendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
  }
}

void AppendLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace meridian::metrics
