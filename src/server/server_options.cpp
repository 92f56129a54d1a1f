// ServeOptions validation: the engine sizing and limits a server cannot start with.
#include "server/server_options.h"

namespace meridian::server {

Status ServeOptions::Validate() const {
  if (parallel < 1) return InvalidArgument("--parallel must be at least 1");
  // The queue counts requests beyond the free running slots, so 0 means "only what can start now".
  if (queue < 0) return InvalidArgument("--queue must not be negative");
  if (max_batch_tokens < 1) return InvalidArgument("--max-batch-tokens must be at least 1");
  if (kv_cache_tokens < 0) return InvalidArgument("--kv-cache-tokens must not be negative");
  if (kv_block_tokens < 1) return InvalidArgument("--kv-block-tokens must be at least 1");
  if (default_max_tokens < 0) return InvalidArgument("--default-max-tokens must not be negative");
  if (threads < 0) return InvalidArgument("--threads must not be negative");
  if (tensor_parallel < 1) return InvalidArgument("--tensor-parallel must be at least 1");
  if (backend != "cpu" && backend != "cuda") return InvalidArgument("--backend must be cpu or cuda");
  if (!(gpu_memory_fraction > 0 && gpu_memory_fraction <= 1)) return InvalidArgument("--gpu-memory-fraction must be in (0, 1]");
  if (!(request_timeout_s > 0))
    return InvalidArgument("--request-timeout must be a positive number of seconds");
  if (!(shutdown_grace_s >= 0)) return InvalidArgument("--shutdown-grace must not be negative");
  if (http.tls_cert_file.empty() != http.tls_key_file.empty())
    return InvalidArgument("--tls-cert and --tls-key must be given together");
  return Status::Ok();
}

}  // namespace meridian::server
