;; print.wat: wasmactor_deliver writes "hello\nfrom guest\n" to stdout with
;; WASI fd_write, then 100000 bytes without a newline to stderr. The host
;; logs the lines tagged with the module and instance, and cuts the long one.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 16) "Bad")
  (data (i32.const 32) "hello\nfrom guest\n")  ;; 17 bytes
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    ;; iovec at 0: {ptr 32, len 17}; bytes written go to 8
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; 100000 bytes of zeros from page 2 (no newline) to stderr
    (i32.store (i32.const 0) (i32.const 131072))
    (i32.store (i32.const 4) (i32.const 100000))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.const 0))
)
