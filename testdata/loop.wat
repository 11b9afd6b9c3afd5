;; loop.wat: wasmactor_deliver spins forever. The host must interrupt it at
;; the call deadline ("deadline") without disturbing other instances.
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    (loop $spin (br $spin))
    (i32.const 0))
)
