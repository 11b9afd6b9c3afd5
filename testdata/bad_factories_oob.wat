;; bad_factories_oob.wat: the factory list points past the end of memory
;; (ptr 0xfffffff0, one 64 KiB page). Compile must reject it, not crash.
(module
  (memory (export "memory") 1)
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 0xfffffff0) (i64.const 32)) (i64.const 64)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 1024))
  (func (export "wasmactor_deliver") (param i32) (result i32) (i32.const 0))
)
