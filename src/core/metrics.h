// Metrics registry: Prometheus counters, gauges and histograms with labels, and the text
// exposition format (version 0.0.4) that `GET /metrics` serves.
//
// Thread-safety: everything may be called from any thread. Updating a metric (Inc, Set, Observe)
// is lock-free (a few relaxed atomics); looking up a labelled child takes a shared lock, so look a
// child up once and keep the reference (children live as long as the registry). Registration and
// Expose take the registry's mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::metrics {

//! A value that only goes up (requests served, tokens generated).
class Counter {
 public:
  //! Adds `amount`; negative amounts and NaN are ignored (a counter never decreases).
  void Inc(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

//! A value that goes up and down (requests running, KV blocks in use).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

//! Observations counted in fixed buckets (upper bounds, inclusive, as Prometheus defines them).
class Histogram {
 public:
  //! `bounds` must be sorted ascending and finite; the +Inf bucket is implicit.
  explicit Histogram(std::span<const double> bounds);
  //! Counts `value` in the first bucket whose bound is >= value; NaN is ignored.
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  //!< one per bound, then +Inf (== count)
    double sum = 0.0;
    uint64_t count = 0;
  };
  //! A consistent-enough copy for exposition: buckets are read once each, count is their total.
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  //!< bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

//! A metric name with its help text, label names and one child per label-value combination.
template <typename T>
class Family {
 public:
  //! The child for `values` (one per label name, in order), created on first use. Throws
  //! std::invalid_argument when the number of values does not match the label names (a
  //! programming error, never caused by request data).
  T& WithLabels(std::initializer_list<std::string_view> values);
  T& WithLabels(std::span<const std::string> values);
  //! The single child of a family without labels.
  T& Get() { return WithLabels(std::span<const std::string>()); }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  T& FindOrCreate(std::vector<std::string> values);
  void AppendTo(std::string& out, MetricType type) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  //!< histograms only
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;  //!< guarded by mu_
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

//! The set of metrics one process exposes.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each registers a family and returns it (valid for the registry's lifetime). Registering a
  // name again with the same type, labels (and buckets) returns the existing family. Throws
  // std::invalid_argument for an invalid metric or label name, a name already used with another
  // shape, or (histograms) unsorted or non-finite bounds or a label named "le": start-up errors.
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                std::vector<std::string> label_names = {});

  //! Runs `collect` at the start of every Expose, e.g. to copy a load report into gauges. It must
  //! not call Expose or register metrics.
  void AddCollector(std::function<void()> collect);

  //! Every family in registration order, children sorted by label values, in the Prometheus text
  //! format (Content-Type: text/plain; version=0.0.4).
  std::string Expose() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry* FindLocked(const std::string& name);

  mutable std::mutex mu_;
  std::vector<Entry> entries_;                     //!< guarded by mu_
  std::vector<std::function<void()>> collectors_;  //!< guarded by mu_
  mutable std::mutex expose_mu_;                   //!< one Expose at a time (collectors)
};

//! Bucket bounds `start`, `start*factor`, ... (`count` of them), as Prometheus' ExponentialBuckets.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

//! True if `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);
//! True if `name` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with "__".
bool IsValidLabelName(std::string_view name);
//! Appends a sample value as Prometheus writes it: shortest round-trip decimal, "+Inf", "-Inf",
//! "NaN".
void AppendValue(std::string& out, double value);
//! Appends `value` escaped for a label value (backslash, double quote and newline).
void AppendLabelValue(std::string& out, std::string_view value);

}  // namespace meridian::metrics
