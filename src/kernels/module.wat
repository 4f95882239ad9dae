;; The kernels' module header: the memory every family copies inputs into and results out of.
;; scripts/build-wasm.mjs wraps this file and the family files in one (module ...), and builds it
;; twice: as it is, and with this memory shared (no more than 65536 pages) for the plane kernels'
;; own instance, whose buffers live across calls (src/kernels/plane-memory.ts): growing a shared
;; memory never detaches a view. Copies between a shared memory and ordinary memory run at half
;; speed, so every other use keeps the ordinary one.
;; Kernels call no functions: V8 does not inline wasm calls, and a call per vector slows a hot loop.
  (memory (export "memory") 1)
