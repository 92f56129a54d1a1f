// Everything `meridian serve` can be told: the model, engine sizing, limits, timeouts and the
// HTTP listener. The flags of src/cli/cmd_serve.cpp map onto these fields one to one.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "http/http_server.h"

namespace meridian::server {

struct ServeOptions {
  std::string model_path;     //!< GGUF file or Hugging Face directory
  std::string model_name;     //!< the id clients send as `model`; "" uses the file's stem
  std::string chat_template;  //!< "" (the model's, else built-in), "llama2", "llama3", "chatml" or a file
  std::string quantize;       //!< "" or "q8_0": quantize F32/F16 weights at load time

  int32_t threads = 0;             //!< engine CPU threads (0: DefaultEngineThreads())
  int32_t tensor_parallel = 1;     //!< ranks splitting every layer (docs/tensor-parallel.md)
  std::string backend = "cpu";     //!< "cpu" or "cuda"
  double gpu_memory_fraction = 0.9;  //!< cuda: share of GPU memory for weights + KV + scratch
  int32_t parallel = 8;            //!< sequences decoding at once
  int32_t queue = 64;              //!< requests waiting for a slot before 429
  int32_t max_batch_tokens = 512;  //!< tokens per engine step (decode + prefill chunks)
  int64_t kv_cache_tokens = 0;     //!< KV cache capacity (0: parallel x the context length)
  int32_t kv_block_tokens = 16;    //!< tokens per KV block
  int32_t default_max_tokens = 0;  //!< max_tokens when a request sets none (0: the rest of the context)

  double request_timeout_s = 600;  //!< deadline of every request, from its arrival
  double shutdown_grace_s = 30;    //!< SIGTERM: how long in-flight requests may finish
  std::string api_key_file;        //!< one key per line; empty: no authentication
  bool access_log = false;         //!< also the http library's own access line (adds a line per request)

  http::HttpServerOptions http;  //!< host, port, io threads, limits, timeouts, TLS (--tls-cert/--tls-key), --http2

  //! InvalidArgument naming the flag of the first value out of range (checked before binding).
  Status Validate() const;
};

}  // namespace meridian::server
