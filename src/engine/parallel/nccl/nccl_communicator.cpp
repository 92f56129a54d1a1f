// NcclCommunicator: group set-up (unique id, per-rank or all-in-one), in-place all-reduce and
// barrier on the rank's stream, and the mapping of NCCL and CUDA errors to Status.
#include "engine/parallel/nccl/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace meridian::engine::parallel {
namespace {

static_assert(sizeof(ncclUniqueId) == sizeof(NcclCommunicator::UniqueId), "ncclUniqueId size changed");

Status FromNccl(ncclResult_t r, const char* what) {
  if (r == ncclSuccess) return Status::Ok();
  return Internal(std::string("NCCL ") + what + ": " + ncclGetErrorString(r));
}

Status FromCuda(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return Internal(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}

// NVLink SHARP multicast stays off unless the operator asked for it (see the issue and
// docs/tensor-parallel.md); must be set before the first communicator is made.
void DefaultNcclEnvironment() {
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
}

}  // namespace

Result<NcclCommunicator::UniqueId> NcclCommunicator::NewUniqueId() {
  DefaultNcclEnvironment();
  ncclUniqueId id;
  MERIDIAN_RETURN_IF_ERROR(FromNccl(ncclGetUniqueId(&id), "ncclGetUniqueId"));
  UniqueId out;
  std::memcpy(out.data(), &id, sizeof(id));
  return out;
}

Result<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Create(const UniqueId& id, int32_t size,
                                                                   int32_t rank, int device,
                                                                   void* cuda_stream) {
  if (size < 1 || rank < 0 || rank >= size) {
    return InvalidArgument("NCCL rank " + std::to_string(rank) + " out of range for " + std::to_string(size) +
                           " ranks");
  }
  DefaultNcclEnvironment();
  MERIDIAN_RETURN_IF_ERROR(FromCuda(cudaSetDevice(device), "cudaSetDevice"));
  std::unique_ptr<NcclCommunicator> c(new NcclCommunicator());
  c->device_ = device;
  c->rank_ = rank;
  c->size_ = size;
  c->stream_ = cuda_stream;
  MERIDIAN_RETURN_IF_ERROR(
      FromCuda(cudaMalloc(reinterpret_cast<void**>(&c->scratch_), sizeof(float)), "cudaMalloc"));
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof(nid));
  ncclComm_t comm = nullptr;
  MERIDIAN_RETURN_IF_ERROR(FromNccl(ncclCommInitRank(&comm, size, nid, rank), "ncclCommInitRank"));
  c->comm_ = comm;
  return c;
}

Result<std::vector<std::unique_ptr<NcclCommunicator>>> NcclCommunicator::CreateAll(
    std::span<const int> devices) {
  const auto n = static_cast<int32_t>(devices.size());
  if (n < 1) return InvalidArgument("NCCL group with no devices");
  DefaultNcclEnvironment();
  std::vector<ncclComm_t> comms(devices.size(), nullptr);
  MERIDIAN_RETURN_IF_ERROR(FromNccl(ncclCommInitAll(comms.data(), n, devices.data()), "ncclCommInitAll"));
  std::vector<std::unique_ptr<NcclCommunicator>> out;
  Status failed;
  for (int32_t r = 0; r < n; ++r) {
    std::unique_ptr<NcclCommunicator> c(new NcclCommunicator());
    c->comm_ = comms[static_cast<size_t>(r)];  // owned from here on, freed by ~NcclCommunicator
    c->device_ = devices[static_cast<size_t>(r)];
    c->rank_ = r;
    c->size_ = n;
    if (failed.ok()) failed = FromCuda(cudaSetDevice(c->device_), "cudaSetDevice");
    if (failed.ok())
      failed = FromCuda(cudaMalloc(reinterpret_cast<void**>(&c->scratch_), sizeof(float)), "cudaMalloc");
    out.push_back(std::move(c));
  }
  if (!failed.ok()) return failed;
  return out;
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
  if (scratch_ != nullptr) {
    cudaSetDevice(device_);
    cudaFree(scratch_);
  }
}

Status NcclCommunicator::AllReduceSum(float* data, int64_t count) {
  if (count < 0) return InvalidArgument("all-reduce of a negative count");
  MERIDIAN_RETURN_IF_ERROR(FromCuda(cudaSetDevice(device_), "cudaSetDevice"));
  return FromNccl(ncclAllReduce(data, data, static_cast<size_t>(count), ncclFloat, ncclSum,
                                static_cast<ncclComm_t>(comm_), static_cast<cudaStream_t>(stream_)),
                  "ncclAllReduce");
}

Status NcclCommunicator::Barrier() {
  MERIDIAN_RETURN_IF_ERROR(FromCuda(cudaSetDevice(device_), "cudaSetDevice"));
  MERIDIAN_RETURN_IF_ERROR(FromCuda(
      cudaMemsetAsync(scratch_, 0, sizeof(float), static_cast<cudaStream_t>(stream_)), "cudaMemsetAsync"));
  MERIDIAN_RETURN_IF_ERROR(AllReduceSum(scratch_, 1));
  return FromCuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)), "cudaStreamSynchronize");
}

}  // namespace meridian::engine::parallel
