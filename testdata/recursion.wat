;; recursion.wat: wasmactor_deliver recurses without a base case, so the
;; guest's stack is exhausted. The host must fail the instance cleanly.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func $down (param $n i64) (result i64)
    (i64.add (call $down (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    (drop (call $down (i64.const 0)))
    (i32.const 0))
)
