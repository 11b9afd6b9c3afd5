;; exit.wat: wasmactor_deliver calls WASI proc_exit(3), as a Go guest's
;; runtime does after a fatal error. The host must fail the instance with
;; "exit: 3".
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    (call $exit (i32.const 3))
    (i32.const 0))
)
