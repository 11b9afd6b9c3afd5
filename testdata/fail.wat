;; fail.wat: wasmactor_deliver reports a broken instance the way the Go SDK
;; does after recovering a panic: the `fail` import, then return 1.
;; The host must fail the instance with "panic: boom".
(module
  (import "wasmactor" "fail" (func $fail (param i32 i32)))
  (data (i32.const 32) "boom")
  (memory (export "memory") 2)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    (call $fail (i32.const 32) (i32.const 4))
    (i32.const 1))
)
