// Internal to the CPU kernels: the per-ISA table of kernel functions that the public entry points
// in kernels.h dispatch through, and the packed activation layout the Q8_0 matmul kernels read.
//
// Rule for the ISA files (*_avx2.cpp, *_avx512.cpp, compiled with ISA flags): they may only
// define functions with internal linkage plus the table getters declared here. No inline or
// template function with external linkage may be instantiated there (std::min, std::exp, ...):
// the linker keeps one copy of such a function for the whole program, and an AVX-512 copy picked
// for a baseline caller would crash a CPU without AVX-512. This header therefore holds no inline
// code, and its structs are plain aggregates (no default member initializers, so no constructor).
#pragma once

#include <cstdint>

#include "engine/dtype/dtype.h"

namespace meridian::engine::cpu::internal {

//! Q8_0-quantized activations of one MatMul call. Rows come in slabs of `slab_rows` (the last
//! slab may be shorter): slab s holds rows [s * slab_rows, ...) at qs + s * slab_q_bytes and
//! d + s * slab_d_floats. Inside a slab the layout is the ISA's own: its pack_act_slab writes it
//! and its q8_matmul reads it. Rows are padded with zero blocks (q = 0, d = 0) from `blocks` up to
//! `padded_blocks` (a multiple of the table's act_block_align).
struct PackedActs {
  const int8_t* qs;  //!< 64-byte aligned, as is every slab
  const float* d;    //!< f32 of the fp16 scales (and whatever else the layout keeps there)
  int64_t m;         //!< activation rows
  int64_t blocks;    //!< Q8_0 blocks per row (k / 32)
  int64_t padded_blocks;
  int64_t slab_q_bytes;   //!< padded_blocks * act_q_bytes_per_block
  int64_t slab_d_floats;  //!< padded_blocks * act_d_per_block
  int slab_rows;
};

//! One group of 8 packed weight rows at one block (see PackedQ8Weights): 272 bytes, as 8 Q8_0
//! blocks. qs[t * 32 + r * 4 + j] is value 4t + j of row r.
struct PackedQ8Block {
  uint16_t d[8];
  int8_t qs[8 * kQ8BlockSize];
};
static_assert(sizeof(PackedQ8Block) == 8 * sizeof(BlockQ8_0));

//! Activations for the packed-weight kernels: plain Q8_0-quantized rows.
struct RowActs {
  const int8_t* qs;     //!< row i at qs + i * row_stride, 64-byte aligned
  const float* d;       //!< [m][blocks], f32 of the fp16 scales
  const int32_t* xsum;  //!< [m][blocks], sum of each block's 32 values
  int64_t m;
  int64_t blocks;
  int64_t row_stride;  //!< bytes, >= blocks * 32, a multiple of 64
};

//! Y[i, r] for the weight rows of groups [group_begin, group_end) (rows past `rows` are padding
//! and not written), i in [0, x.m).
using PackedQ8MatMulFn = void (*)(const PackedQ8Block* w, int64_t blocks, int64_t group_begin,
                                  int64_t group_end, int64_t rows, const RowActs& x, float* y, int64_t ldy);

//! Y[i, r] for r in [row_begin, row_end), i in [0, x.m): sum over blocks of d_w * d_x * dot(q_w, q_x).
//! `w` is the whole weight matrix, `w_blocks` its blocks per row (the unpadded count).
using Q8MatMulFn = void (*)(const BlockQ8_0* w, int64_t w_blocks, int64_t row_begin, int64_t row_end,
                            const PackedActs& x, float* y, int64_t ldy);
//! Y[i, r] = dot(W[r, :], X[i, :]) for W in F32, F16 or BF16 (`dtype`), r in [row_begin, row_end).
using FloatMatMulFn = void (*)(DType dtype, const void* w, int64_t k, int64_t row_begin, int64_t row_end,
                               const float* x, int64_t m, float* y, int64_t ldy);
//! Quantizes `rows` (1..slab_rows) rows of x (row stride k, k a multiple of 32) into the slab at
//! qs (padded_blocks * act_q_bytes_per_block bytes) and d (padded_blocks * act_d_per_block
//! floats). The values are bit-identical to QuantizeRowQ8_0's (the fp16 scale widened to f32).
using PackActSlabFn = void (*)(const float* x, int64_t k, int rows, int64_t padded_blocks, int8_t* qs,
                               float* d);
//! Quantizes one row to Q8_0 blocks, bit-identical to QuantizeRowQ8_0.
using QuantizeRowFn = void (*)(const float* x, BlockQ8_0* out, int64_t k);
//! Sums `bytes` bytes (a multiple of 256, 64-byte aligned) so that no load can be skipped,
//! prefetching `prefetch_bytes` ahead (0: no software prefetch).
using ReadBytesFn = uint64_t (*)(const void* data, int64_t bytes, int64_t prefetch_bytes);

//! One ISA's kernels. Every entry is set.
struct KernelTable {
  int act_slab_rows;          //!< PackedActs::slab_rows of this table's layout
  int act_block_align;        //!< PackedActs::padded_blocks is a multiple of this
  int act_q_bytes_per_block;  //!< slab bytes per (padded) block, a multiple of 64
  int act_d_per_block;        //!< slab floats per (padded) block
  PackActSlabFn pack_act_slab;
  Q8MatMulFn q8_matmul;
  PackedQ8MatMulFn packed_q8_matmul;
  FloatMatMulFn float_matmul;
  QuantizeRowFn quantize_row;
  ReadBytesFn read_bytes;
  void (*rms_norm)(const float* x, const float* w, int64_t n, float eps, float* y);
  void (*silu_mul)(const float* gate, const float* up, int64_t n, float* out);
  void (*add_in_place)(float* x, const float* y, int64_t n);
  void (*softmax)(float* x, int64_t n);
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  void (*dequantize_row)(DType dtype, const void* src, float* dst, int64_t k);
};

//! The tables, one per ISA (built in isa.cpp from the Fill functions below). Only call into one
//! whose ISA the CPU supports.
const KernelTable& ScalarTable();
const KernelTable& Avx2Table();
const KernelTable& Avx512Table();
const KernelTable& Avx512VnniTable();

//! Quantizes one 32-value block with AVX2 (bit-identical to QuantizeRowQ8_0); returns the fp16
//! scale bits. Shared by the AVX2 and AVX-512 packers.
uint16_t QuantizeBlockAvx2(const float* x, int8_t* qs);

//! Fill parts of a table; defined in the ISA files (only run them where the ISA is supported).
void FillScalar(KernelTable* t);
void FillAvx2Vector(KernelTable* t);        //!< everything but the Q8_0 entries
void FillAvx2Q8(KernelTable* t);            //!< act layout, pack_act_slab, q8_matmul, quantize_row
void FillAvx2Packed(KernelTable* t);        //!< packed_q8_matmul
void FillAvx512Vector(KernelTable* t);      //!< float_matmul, read_bytes
void FillAvx512VnniQ8(KernelTable* t);      //!< AVX-512 VNNI act layout and Q8_0 kernels
void FillAvx512VnniPacked(KernelTable* t);  //!< packed_q8_matmul with VNNI

//! The scalar packed-weight kernel (packed_matmul.cpp).
void ScalarPackedQ8MatMul(const PackedQ8Block* w, int64_t blocks, int64_t group_begin, int64_t group_end,
                          int64_t rows, const RowActs& x, float* y, int64_t ldy);

//! Scalar conversion of one row of any dtype to f32 (the reference of DequantizeRow).
void DequantizeRowReference(DType dtype, const void* src, float* dst, int64_t k);

//! The table of ActiveIsa().
const KernelTable& ActiveTable();

}  // namespace meridian::engine::cpu::internal
