;; missing_export.wat: has no wasmactor_deliver. Compile must reject it:
;; "missing export wasmactor_deliver".
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 1024))
)
