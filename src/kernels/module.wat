;; The kernels' module header: the memory every family copies inputs into and results out of.
;; scripts/build-wasm.mjs wraps this file and the family files in one (module ...); src/kernels/index.ts
;; makes two instances of it, one for the plane kernels (with buffers that live across calls) and
;; one for the rest.
;; Kernels call no functions: V8 does not inline wasm calls, and a call per vector slows a hot loop.
;; Shared, so that growing it never detaches a view: buffers that live across calls (a restore's
;; staged reads and writes, src/kernels/plane-memory.ts) stay valid while the scratch above them grows.
  (memory (export "memory") 1 65536 shared)
