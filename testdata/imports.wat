;; imports.wat: abuses the wasmactor imports and reports the error codes it
;; got back. Factory "Probe".
;;
;; During _initialize and wasmactor_snapshot (outside wasmactor_deliver) it
;; calls `send` and keeps the code. On every deliver it calls imports with
;; out-of-range pointers, oversized lengths, bad names and unknown flags, then
;; sends two messages to <9.9>:
;;   1. 16 bytes, one error code per byte (see $results below), and
;;   2. the 16-byte PID written by a final valid spawn.
(module
  (import "wasmactor" "send"
    (func $send (param i64 i64 i64 i32 i32) (result i32)))
  (import "wasmactor" "ask"
    (func $ask (param i64 i64 i64 i64 i32 i32 i32) (result i32)))
  (import "wasmactor" "spawn"
    (func $spawn (param i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasmactor" "whereis"
    (func $whereis (param i32 i32 i32) (result i32)))
  (import "wasmactor" "register"
    (func $register (param i64 i32 i32) (result i32)))
  (import "wasmactor" "log" (func $log (param i64 i32 i32 i32)))

  (memory (export "memory") 2)
  (data (i32.const 16) "Probe")
  (data (i32.const 40) "bad name")
  ;; $results: 256..271, one byte per probe; the spawned PID lands at 512.

  (func $actor (result i64) (i64.load offset=8 (i32.const 65536)))

  (func (export "_initialize")
    (i32.store8 (i32.const 256)
      (call $send (i64.const 1) (i64.const 1) (i64.const 1) (i32.const 16) (i32.const 5))))

  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 5)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))

  (func (export "wasmactor_snapshot") (param i64) (result i64)
    (i32.store8 (i32.const 264)
      (call $send (i64.const 1) (i64.const 1) (i64.const 1) (i32.const 16) (i32.const 5)))
    (i64.const -1))

  (func (export "wasmactor_deliver") (param i32) (result i32)
    ;; [1] payload pointer past the end of memory -> BAD_ARGUMENT
    (i32.store8 (i32.const 257)
      (call $send (call $actor) (i64.const 1) (i64.const 2) (i32.const 0xffffff00) (i32.const 256)))
    ;; [2] payload longer than the message cap -> TOO_LARGE
    (i32.store8 (i32.const 258)
      (call $send (call $actor) (i64.const 1) (i64.const 2) (i32.const 0) (i32.const 0x7fffffff)))
    ;; [3] spawn with out_ptr past the end -> BAD_ARGUMENT, nothing spawned
    (i32.store8 (i32.const 259)
      (call $spawn (call $actor) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                   (i32.const 0) (i32.const 0xfffffff8)))
    ;; [4] whereis with a name pointer past the end -> BAD_ARGUMENT
    (i32.store8 (i32.const 260)
      (call $whereis (i32.const 0xffffffff) (i32.const 4) (i32.const 512)))
    ;; [5] spawn of an invalid factory name -> BAD_ARGUMENT
    (i32.store8 (i32.const 261)
      (call $spawn (call $actor) (i32.const 40) (i32.const 8) (i32.const 0) (i32.const 0)
                   (i32.const 0) (i32.const 512)))
    ;; [6] register an empty name -> BAD_ARGUMENT
    (i32.store8 (i32.const 262)
      (call $register (call $actor) (i32.const 0) (i32.const 0)))
    ;; [7] spawn with an unknown flag bit -> BAD_ARGUMENT
    (i32.store8 (i32.const 263)
      (call $spawn (call $actor) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                   (i32.const 0x80) (i32.const 512)))
    ;; [8] is the snapshot-time probe, stored by wasmactor_snapshot
    ;; [9] ask with timeout 0 (host default) and a valid payload -> what the host says
    (i32.store8 (i32.const 265)
      (call $ask (call $actor) (i64.const 1) (i64.const 2) (i64.const 77) (i32.const 0)
                 (i32.const 16) (i32.const 5)))
    ;; a log line pointing past the end: must be ignored, not crash
    (call $log (call $actor) (i32.const 1) (i32.const 0xfffffff0) (i32.const 100))
    ;; [10] a valid spawn, linked: writes the child's PID at 512
    (i32.store8 (i32.const 266)
      (call $spawn (call $actor) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                   (i32.const 1) (i32.const 512)))
    (drop (call $send (call $actor) (i64.const 9) (i64.const 9) (i32.const 256) (i32.const 16)))
    (drop (call $send (call $actor) (i64.const 9) (i64.const 9) (i32.const 512) (i32.const 16)))
    (i32.const 0))
)
