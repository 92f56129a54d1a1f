#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "engine/backend/cpu/kernels/kernels.h"
using namespace meridian::engine; namespace cpu = meridian::engine::cpu;
int main(int argc,char**argv){
  int threads=argc>1?atoi(argv[1]):2; int reps=argc>2?atoi(argv[2]):5;
  const int64_t dim=2048,kv=256,ffn=5632; int64_t sh[][2]={{dim,dim},{kv,dim},{kv,dim},{dim,dim},{ffn,dim},{ffn,dim},{dim,ffn}};
  std::vector<std::vector<BlockQ8_0>> mats; std::vector<WeightTensor> ws; uint64_t bytes=0; uint64_t s=88172645463325252ull;
  for(int l=0;l<22;l++) for(auto&x:sh){ mats.emplace_back(x[0]*x[1]/32); for(auto&b:mats.back()){ s^=s<<13;s^=s>>7;s^=s<<17; b.d=0x2000; memcpy(b.qs,&s,8); memcpy(b.qs+8,&s,8);memcpy(b.qs+16,&s,8);memcpy(b.qs+24,&s,8);} ws.push_back(WeightTensor{DType::kQ8_0,x[0],x[1],mats.back().data()}); bytes+=ws.back().n_bytes(); }
  mats.emplace_back(32000*dim/32); for(auto&b:mats.back()){b.d=0x2000; memset(b.qs,1,32);} ws.push_back(WeightTensor{DType::kQ8_0,32000,dim,mats.back().data()}); bytes+=ws.back().n_bytes();
  cpu::ThreadPool pool(threads); std::vector<float> x(ffn,0.5f), y(32000);
  for(int r=0;r<reps;r++){
    double bw=cpu::MeasureReadBandwidthGBs(pool, size_t(512)<<20);
    double best=1e9; for(int i=0;i<3;i++){ auto t0=std::chrono::steady_clock::now(); for(auto&w:ws) cpu::MatMul(w,x.data(),1,y.data(),w.rows,pool); best=std::min(best,std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count()); }
    printf("threads=%d bw=%.2f GB/s  m1 pass %.1f ms = %.2f GB/s ratio %.3f\n",threads,bw,best*1e3,bytes/best/1e9,bytes/best/1e9/bw);
  }
}
