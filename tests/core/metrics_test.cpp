// Metrics registry: values, labels, histogram buckets, the exact text exposition, registration
// errors, and concurrent updates.
#include "core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace meridian::metrics {
namespace {

TEST(Metrics, CounterOnlyGoesUp) {
  Counter c;
  c.Inc();
  c.Inc(2.5);
  c.Inc(-4);
  c.Inc(std::nan(""));
  EXPECT_DOUBLE_EQ(c.Value(), 3.5);
}

TEST(Metrics, GaugeSetIncDec) {
  Gauge g;
  g.Set(4);
  g.Inc();
  g.Dec(2);
  EXPECT_DOUBLE_EQ(g.Value(), 3);
}

TEST(Metrics, HistogramBucketsAreInclusiveUpperBounds) {
  const std::vector<double> bounds = {0.1, 1, 10};
  Histogram h(bounds);
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 100.0}) h.Observe(v);
  h.Observe(std::nan(""));
  const auto s = h.Read();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 106.65);
}

TEST(Metrics, ExpositionFormat) {
  Registry r;
  auto& requests = r.AddCounter("meridian:requests_total", "Requests by status.", {"endpoint", "status"});
  requests.WithLabels({"chat", "200"}).Inc(3);
  requests.WithLabels({"chat", "429"}).Inc();
  r.AddGauge("meridian:num_requests_running", "Running requests.").Get().Set(2);
  auto& ttft = r.AddHistogram("meridian:time_to_first_token_seconds", "TTFT.", {0.5, 1});
  ttft.Get().Observe(0.25);
  ttft.Get().Observe(2);
  const std::string expected =
      "# HELP meridian:requests_total Requests by status.\n"
      "# TYPE meridian:requests_total counter\n"
      "meridian:requests_total{endpoint=\"chat\",status=\"200\"} 3\n"
      "meridian:requests_total{endpoint=\"chat\",status=\"429\"} 1\n"
      "# HELP meridian:num_requests_running Running requests.\n"
      "# TYPE meridian:num_requests_running gauge\n"
      "meridian:num_requests_running 2\n"
      "# HELP meridian:time_to_first_token_seconds TTFT.\n"
      "# TYPE meridian:time_to_first_token_seconds histogram\n"
      "meridian:time_to_first_token_seconds_bucket{le=\"0.5\"} 1\n"
      "meridian:time_to_first_token_seconds_bucket{le=\"1\"} 1\n"
      "meridian:time_to_first_token_seconds_bucket{le=\"+Inf\"} 2\n"
      "meridian:time_to_first_token_seconds_sum 2.25\n"
      "meridian:time_to_first_token_seconds_count 2\n";
  EXPECT_EQ(r.Expose(), expected);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.AddCounter("x_total", "Help with \\ and\nnewline.", {"v"}).WithLabels({"a\"b\\c\nd"}).Inc();
  const std::string text = r.Expose();
  EXPECT_NE(text.find("# HELP x_total Help with \\\\ and\\nnewline.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, SpecialValues) {
  std::string out;
  AppendValue(out, std::numeric_limits<double>::infinity());
  out += ' ';
  AppendValue(out, -std::numeric_limits<double>::infinity());
  out += ' ';
  AppendValue(out, std::nan(""));
  out += ' ';
  AppendValue(out, 0.1);
  out += ' ';
  AppendValue(out, 1e21);
  EXPECT_EQ(out, "+Inf -Inf NaN 0.1 1e+21");
}

TEST(Metrics, CollectorsRunBeforeExposition) {
  Registry r;
  Gauge& g = r.AddGauge("queue", "Queue length.").Get();
  int calls = 0;
  r.AddCollector([&] { g.Set(++calls * 10); });
  EXPECT_NE(r.Expose().find("queue 10\n"), std::string::npos);
  EXPECT_NE(r.Expose().find("queue 20\n"), std::string::npos);
}

TEST(Metrics, RegistrationIsIdempotentAndChecked) {
  Registry r;
  auto& a = r.AddCounter("c_total", "C.", {"x"});
  EXPECT_EQ(&a, &r.AddCounter("c_total", "C.", {"x"}));
  EXPECT_THROW(r.AddGauge("c_total", "C."), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("c_total", "C.", {"y"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("1bad", "."), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("bad-name", "."), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("ok", ".", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("ok2", ".", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h", ".", {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(r.AddHistogram("h2", ".", {1}, {"le"}), std::invalid_argument);
  EXPECT_THROW(a.WithLabels({"1", "2"}), std::invalid_argument);
  EXPECT_EQ(&a.WithLabels({"v"}), &a.WithLabels({"v"}));
}

TEST(Metrics, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(0.001, 2, 4), (std::vector<double>{0.001, 0.002, 0.004, 0.008}));
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& family = r.AddCounter("n_total", "N.", {"t"});
  auto& hist = r.AddHistogram("lat", "L.", {0.5});
  std::vector<std::thread> threads;
  constexpr int kThreads = 4, kPerThread = 20000;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        family.WithLabels({i % 2 ? "odd" : "even"}).Inc();
        hist.Get().Observe(t % 2 ? 1.0 : 0.25);
        if (i % 5000 == 0) (void)r.Expose();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(family.WithLabels({"odd"}).Value() + family.WithLabels({"even"}).Value(),
                   kThreads * kPerThread);
  const auto s = hist.Get().Read();
  EXPECT_EQ(s.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(s.cumulative[0], static_cast<uint64_t>(kThreads / 2 * kPerThread));
}

}  // namespace
}  // namespace meridian::metrics
