// ISA detection (cpuid + XGETBV), the MERIDIAN_ISA override and the choice of kernel table.
#include <atomic>
#include <cstdlib>
#include <string_view>

#include "engine/backend/cpu/kernels/kernel_table.h"
#include "engine/backend/cpu/kernels/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace meridian::engine::cpu {
namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t ReadXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ __volatile__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Isa DetectIsaUncached() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::kScalar;
  const bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  // The OS must save the YMM state (XCR0 bits 1 and 2) or AVX instructions fault.
  if (!osxsave || !avx) return Isa::kScalar;
  const uint64_t xcr0 = ReadXcr0();
  if ((xcr0 & 0x6) != 0x6) return Isa::kScalar;
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::kScalar;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  if (!avx2 || !fma || !f16c) return Isa::kScalar;
  const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
             avx512vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
  // AVX-512 also needs the opmask and ZMM state enabled by the OS (XCR0 bits 5, 6, 7).
  if (!(avx512f && avx512dq && avx512bw && avx512vl) || (xcr0 & 0xe0) != 0xe0) return Isa::kAvx2;
  return vnni ? Isa::kAvx512Vnni : Isa::kAvx512;
}
#else
Isa DetectIsaUncached() {
  return Isa::kScalar;
}
#endif

Isa Clamp(Isa wanted) {
  return static_cast<int>(wanted) <= static_cast<int>(DetectIsa()) ? wanted : DetectIsa();
}

Isa InitialIsa() {
  if (const char* env = std::getenv("MERIDIAN_ISA")) {
    if (auto isa = IsaFromName(env)) return Clamp(*isa);
  }
  return DetectIsa();
}

std::atomic<int>& ActiveSlot() {
  static std::atomic<int> slot{static_cast<int>(InitialIsa())};
  return slot;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "unknown";
}

std::optional<Isa> IsaFromName(std::string_view name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni}) {
    if (name == IsaName(isa)) return isa;
  }
  return std::nullopt;
}

Isa DetectIsa() {
  static const Isa detected = DetectIsaUncached();
  return detected;
}

bool IsaSupported(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(DetectIsa());
}

Isa ActiveIsa() {
  return static_cast<Isa>(ActiveSlot().load(std::memory_order_relaxed));
}

Isa SetActiveIsa(Isa isa) {
  const Isa effective = Clamp(isa);
  ActiveSlot().store(static_cast<int>(effective), std::memory_order_relaxed);
  return effective;
}

namespace internal {

// The tables are built here, in baseline code; the Fill functions only store pointers.
const KernelTable& ScalarTable() {
  static const KernelTable table = [] {
    KernelTable t{};
    FillScalar(&t);
    return t;
  }();
  return table;
}

const KernelTable& Avx2Table() {
  static const KernelTable table = [] {
    KernelTable t{};
    FillScalar(&t);
    FillAvx2Vector(&t);
    FillAvx2Q8(&t);
    FillAvx2Packed(&t);
    return t;
  }();
  return table;
}

// AVX-512 without VNNI keeps the AVX2 int8 kernels (see q8_matmul_avx512.cpp for why).
const KernelTable& Avx512Table() {
  static const KernelTable table = [] {
    KernelTable t = Avx2Table();
    FillAvx512Vector(&t);
    return t;
  }();
  return table;
}

const KernelTable& Avx512VnniTable() {
  static const KernelTable table = [] {
    KernelTable t = Avx512Table();
    FillAvx512VnniQ8(&t);
    FillAvx512VnniPacked(&t);
    return t;
  }();
  return table;
}

const KernelTable& ActiveTable() {
  switch (ActiveIsa()) {
    case Isa::kScalar: return ScalarTable();
    case Isa::kAvx2: return Avx2Table();
    case Isa::kAvx512: return Avx512Table();
    case Isa::kAvx512Vnni: return Avx512VnniTable();
  }
  return ScalarTable();
}

}  // namespace internal
}  // namespace meridian::engine::cpu
