#!/bin/bash
# Temporary helper: builds the kernels, their tests and kernels_bench with plain g++ and runs them.
set -u
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-400
O=/tmp/o; mkdir -p $O
K=src/engine/backend/cpu/kernels
A2="-mavx2 -mfma -mf16c"
A5="-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c -mavx2"
build() { f=$1; extra=""; case $f in *_avx2.cpp) extra=$A2;; *_avx512.cpp) extra=$A5;; esac
  g++ -O2 -std=c++20 -Isrc -Wall -Wextra -Wno-unused-parameter $extra -c $f -o $O/$(echo $f | tr / _).o || echo "BUILD FAILED $f"; }
export -f build; export O A2 A5
ls $K/*.cpp src/engine/dtype/dtype.cpp | xargs -P 16 -I{} bash -c 'build {}'
g++ -O2 -std=c++20 -Isrc -c bench/kernels_bench.cpp -o $O/bench.o &
for t in tests/engine/kernels/*_test.cpp; do g++ -O2 -std=c++20 -Isrc -c $t -o $O/$(basename $t).o & done; wait
g++ $O/src_*.o $O/*_test.cpp.o -lgtest -lgtest_main -pthread -o $O/tests || echo LINK FAILED
g++ $O/src_*.o $O/bench.o -pthread -o $O/bench || echo LINK FAILED
$O/tests --gtest_brief=1 2>&1 | tail -15
