;; bad_import.wat: imports wasmactor.nonexistent, which no node provides.
;; Compile must reject it naming the import.
(module
  (import "wasmactor" "nonexistent" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmactor_deliver") (param i32) (result i32) (i32.const 0))
)
