;; membomb.wat: wasmactor_deliver grows memory 16 pages (1 MiB) at a time
;; without bound, touching each new page; when memory.grow fails it traps, as a
;; Go guest's runtime does on out-of-memory. The host must refuse growth past
;; its page limit and fail the instance ("oom: ...").
(module
  (memory (export "memory") 2)
  (data (i32.const 16) "Bad")
  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 3)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))
  (func (export "wasmactor_deliver") (param i32) (result i32)
    (local $old i32)
    (loop $more
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
      (i32.store (i32.shl (local.get $old) (i32.const 16)) (i32.const 1))
      (br $more))
    (i32.const 0))
)
