;; init_log.wat: an actor module whose _initialize logs "initialising"
;; through the `log` import (which, outside wasmactor_deliver, goes straight
;; to the node's logger). Factory "Slow"; every record is accepted and
;; ignored. A test's log handler that blocks on that line holds an
;; instantiation inside guest code for as long as the test wants, to show
;; that nothing else on the node waits for it.
;;
;; Rebuild: wat2wasm init_log.wat -o init_log.wasm
(module
  ;; log(actor, level, ptr, len)
  (import "wasmactor" "log" (func $log (param i64 i32 i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "Slow")
  (data (i32.const 32) "initialising")  ;; 12 bytes
  (func (export "_initialize")
    (call $log (i64.const 0) (i32.const 1) (i32.const 32) (i32.const 12)))
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 4)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32) (i32.const 0))
)
