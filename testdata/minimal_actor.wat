;; minimal_actor.wat: a complete wasmactor actor written by hand, speaking
;; guest ABI v1 (docs/abi.md). It proves the ABI needs nothing from the Go SDK.
;;
;; One factory, "Echo". Every ASK is answered with its own payload through the
;; `reply` import; every TELL increments a counter, which is the actor's state
;; for `wasmactor_snapshot` (8 bytes, little-endian). To stay minimal, all Echo
;; actors of one instance share the counter; START, STOP and unknown kinds are
;; accepted and otherwise ignored.
;;
;; Rebuild: wat2wasm minimal_actor.wat -o minimal_actor.wasm
(module
  ;; reply(actor, to_incarnation, to_serial, ref, ptr, len) -> errno
  (import "wasmactor" "reply"
    (func $reply (param i64 i64 i64 i64 i32 i32) (result i32)))
  ;; log(actor, level, ptr, len)
  (import "wasmactor" "log" (func $log (param i64 i32 i32 i32)))

  ;; Page 0 holds constants and the snapshot; page 1 is the initial inbox.
  (memory (export "memory") 2)
  (data (i32.const 16) "Echo")          ;; the factory list: one name
  (data (i32.const 32) "echo started")  ;; 12 bytes, logged on START

  (global $inbox (mut i32) (i32.const 65536))  ;; inbox pointer
  (global $inbox_cap (mut i32) (i32.const 65536))
  (global $tells (mut i64) (i64.const 0))

  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))

  ;; (ptr << 32) | len of "Echo"
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 4)))

  ;; Hand out the inbox; when the host needs more room, grow memory and put
  ;; the new inbox at the old end of memory. 0 means "cannot allocate".
  (func (export "wasmactor_inbox") (param $size i32) (result i32)
    (local $old i32)
    (if (i32.le_u (local.get $size) (global.get $inbox_cap))
      (then (return (global.get $inbox))))
    (local.set $old
      (memory.grow (i32.shr_u (i32.add (local.get $size) (i32.const 65535))
                              (i32.const 16))))
    (if (i32.eq (local.get $old) (i32.const -1)) (then (return (i32.const 0))))
    (global.set $inbox (i32.shl (local.get $old) (i32.const 16)))
    (global.set $inbox_cap (local.get $size))
    (global.get $inbox))

  ;; Walk the batch record by record (see "Batch records" in docs/abi.md).
  (func (export "wasmactor_deliver") (param $len i32) (result i32)
    (local $p i32) (local $end i32) (local $size i32) (local $kind i32)
    (local.set $p (global.get $inbox))
    (local.set $end (i32.add (global.get $inbox) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $size (i32.load (local.get $p)))
        ;; a record is at least its 48-byte header: anything less is a broken batch
        (if (i32.lt_u (local.get $size) (i32.const 48)) (then (return (i32.const 1))))
        (local.set $kind (i32.load16_u offset=4 (local.get $p)))
        ;; START (1): say hello
        (if (i32.eq (local.get $kind) (i32.const 1))
          (then (call $log (i64.load offset=8 (local.get $p)) (i32.const 1)
                           (i32.const 32) (i32.const 12))))
        ;; TELL (3): count it
        (if (i32.eq (local.get $kind) (i32.const 3))
          (then (global.set $tells (i64.add (global.get $tells) (i64.const 1)))))
        ;; ASK (4): reply(actor, from_incarnation, from_serial, ref, payload, payload_len)
        (if (i32.eq (local.get $kind) (i32.const 4))
          (then (drop (call $reply
            (i64.load offset=8 (local.get $p))    ;; actor
            (i64.load offset=16 (local.get $p))   ;; from_incarnation
            (i64.load offset=24 (local.get $p))   ;; from_serial
            (i64.load offset=32 (local.get $p))   ;; ref
            (i32.add (local.get $p) (i32.const 48)) ;; payload
            (i32.load offset=40 (local.get $p)))))) ;; payload_len
        (local.set $p (i32.add (local.get $p) (local.get $size)))
        (br $next)))
    (i32.const 0))

  ;; The state is the TELL counter, stored at offset 8 for the host to copy.
  (func (export "wasmactor_snapshot") (param $actor i64) (result i64)
    (i64.store (i32.const 8) (global.get $tells))
    (i64.or (i64.shl (i64.const 8) (i64.const 32)) (i64.const 8)))
)
