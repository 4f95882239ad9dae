;; The kernels' module header: the one memory every family copies inputs into and results out of.
;; scripts/build-wasm.mjs wraps this file and the family files in one (module ...), so one instance
;; (src/kernels/index.ts) serves every caller.
;; Kernels call no functions: V8 does not inline wasm calls, and a call per vector slows a hot loop.
  (memory (export "memory") 1)
