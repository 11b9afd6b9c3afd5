;; bad_factories.wat: the factory list contains a name with a space, which
;; abi.md forbids ([A-Za-z0-9_.-] only). Compile must reject it.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "Good\nnot ok")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmactor_deliver") (param i32) (result i32) (i32.const 0))
)
