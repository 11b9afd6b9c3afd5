;; trivial.wat: one export with an empty body, the baseline for the cost of a
;; raw wazero host→guest call (BenchmarkWazeroCall in internal/engine).
(module
  (func (export "noop") (param i32) (result i32) (local.get 0))
)
