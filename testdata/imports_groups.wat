;; imports_groups.wat: abuses the imports added for node monitors, groups and
;; spawn requests (monitor_node, join_group, leave_group, group_members,
;; send_group, monitor_group, spawn_request, and spawn's monitor flag) and
;; reports the error codes it got back. Factory "Probe".
;;
;; On every deliver it calls them with out-of-range pointers, oversized
;; lengths, bad names, policies and flags, and valid arguments, then sends
;; two messages to <9.9>:
;;   1. 20 bytes, one error code per byte (see the numbered calls below), and
;;   2. the 400 bytes at 600, where the valid calls wrote their results:
;;      600 monitor_node's ref, 608 monitor_group's ref, 700 two PIDs from
;;      group_members, 800 its member count (u32), 820 send_group's sent
;;      and refused counts (u32 each), 900 spawn's PID and monitor ref.
(module
  (import "wasmactor" "send"
    (func $send (param i64 i64 i64 i32 i32) (result i32)))
  (import "wasmactor" "spawn"
    (func $spawn (param i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasmactor" "monitor_node"
    (func $monitor_node (param i64 i32 i32 i32) (result i32)))
  (import "wasmactor" "join_group"
    (func $join_group (param i64 i32 i32) (result i32)))
  (import "wasmactor" "leave_group"
    (func $leave_group (param i64 i32 i32) (result i32)))
  (import "wasmactor" "group_members"
    (func $group_members (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasmactor" "send_group"
    (func $send_group (param i64 i32 i32 i32 i32 i32) (result i32)))
  (import "wasmactor" "monitor_group"
    (func $monitor_group (param i64 i32 i32 i32) (result i32)))
  (import "wasmactor" "spawn_request"
    (func $spawn_request (param i64 i64 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 2)
  (data (i32.const 16) "Probe")
  (data (i32.const 40) "bad name")
  (data (i32.const 64) "n2")
  (data (i32.const 72) "g1")
  ;; results: 256..275, one byte per call.

  (func $actor (result i64) (i64.load offset=8 (i32.const 65536)))

  (func (export "wasmactor_abi_version") (result i32) (i32.const 1))
  (func (export "wasmactor_factories") (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 5)))
  (func (export "wasmactor_inbox") (param i32) (result i32) (i32.const 65536))

  (func (export "wasmactor_deliver") (param i32) (result i32)
    ;; [0] monitor_node with a name past the end of memory -> BAD_ARGUMENT
    (i32.store8 (i32.const 256)
      (call $monitor_node (call $actor) (i32.const 0xfffffff0) (i32.const 2) (i32.const 600)))
    ;; [1] monitor_node of a name that is no node name -> BAD_ARGUMENT
    (i32.store8 (i32.const 257)
      (call $monitor_node (call $actor) (i32.const 40) (i32.const 8) (i32.const 600)))
    ;; [2] monitor_node with out_ptr past the end -> BAD_ARGUMENT
    (i32.store8 (i32.const 258)
      (call $monitor_node (call $actor) (i32.const 64) (i32.const 2) (i32.const 0xfffffffc)))
    ;; [3] monitor_node "n2" -> what the host says; the ref lands at 600
    (i32.store8 (i32.const 259)
      (call $monitor_node (call $actor) (i32.const 64) (i32.const 2) (i32.const 600)))
    ;; [4] join_group "" -> BAD_ARGUMENT
    (i32.store8 (i32.const 260)
      (call $join_group (call $actor) (i32.const 72) (i32.const 0)))
    ;; [5] join_group "g1" -> what the host says
    (i32.store8 (i32.const 261)
      (call $join_group (call $actor) (i32.const 72) (i32.const 2)))
    ;; [6] leave_group with a name past the end -> BAD_ARGUMENT
    (i32.store8 (i32.const 262)
      (call $leave_group (call $actor) (i32.const 0xffffffff) (i32.const 2)))
    ;; [7] group_members whose max PIDs overflow 32 bits -> BAD_ARGUMENT
    (i32.store8 (i32.const 263)
      (call $group_members (i32.const 72) (i32.const 2) (i32.const 700) (i32.const 0x10000000) (i32.const 800)))
    ;; [8] group_members with count_ptr past the end -> BAD_ARGUMENT
    (i32.store8 (i32.const 264)
      (call $group_members (i32.const 72) (i32.const 2) (i32.const 700) (i32.const 2) (i32.const 0xfffffffe)))
    ;; [9] group_members, room for 2 -> what the host says; 2 PIDs at 700, the count at 800
    (i32.store8 (i32.const 265)
      (call $group_members (i32.const 72) (i32.const 2) (i32.const 700) (i32.const 2) (i32.const 800)))
    ;; [10] send_group with a payload over the cap -> TOO_LARGE
    (i32.store8 (i32.const 266)
      (call $send_group (call $actor) (i32.const 72) (i32.const 2) (i32.const 0) (i32.const 0x7fffffff) (i32.const 820)))
    ;; [11] send_group with out_ptr past the end -> BAD_ARGUMENT
    (i32.store8 (i32.const 267)
      (call $send_group (call $actor) (i32.const 72) (i32.const 2) (i32.const 16) (i32.const 5) (i32.const 0xfffffffc)))
    ;; [12] send_group "Probe" to g1 -> what the host says; counts at 820
    (i32.store8 (i32.const 268)
      (call $send_group (call $actor) (i32.const 72) (i32.const 2) (i32.const 16) (i32.const 5) (i32.const 820)))
    ;; [13] monitor_group g1 -> what the host says; the ref at 608
    (i32.store8 (i32.const 269)
      (call $monitor_group (call $actor) (i32.const 72) (i32.const 2) (i32.const 608)))
    ;; [14] spawn_request on a node that is no node name -> BAD_ARGUMENT
    (i32.store8 (i32.const 270)
      (call $spawn_request (call $actor) (i64.const 99) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                           (i32.const 40) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    ;; [15] spawn_request with restart policy 3 -> BAD_ARGUMENT
    (i32.store8 (i32.const 271)
      (call $spawn_request (call $actor) (i64.const 99) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                           (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0)))
    ;; [16] spawn_request with an unknown flag -> BAD_ARGUMENT
    (i32.store8 (i32.const 272)
      (call $spawn_request (call $actor) (i64.const 99) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                           (i32.const 64) (i32.const 2) (i32.const 0x80) (i32.const 0) (i32.const 0) (i32.const 0)))
    ;; [17] spawn_request ref 99 of Probe on n2, linked and monitored, permanent,
    ;; 4 restarts per 1500 ms -> what the host says
    (i32.store8 (i32.const 273)
      (call $spawn_request (call $actor) (i64.const 99) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                           (i32.const 64) (i32.const 2) (i32.const 5) (i32.const 2) (i32.const 4) (i32.const 1500)))
    ;; [18] spawn with the monitor flag and room for a PID but not the ref -> BAD_ARGUMENT
    (i32.store8 (i32.const 274)
      (call $spawn (call $actor) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                   (i32.const 4) (i32.const 131056)))
    ;; [19] spawn with the monitor flag -> what the host says; PID and ref at 900
    (i32.store8 (i32.const 275)
      (call $spawn (call $actor) (i32.const 16) (i32.const 5) (i32.const 0) (i32.const 0)
                   (i32.const 4) (i32.const 900)))
    (drop (call $send (call $actor) (i64.const 9) (i64.const 9) (i32.const 256) (i32.const 20)))
    (drop (call $send (call $actor) (i64.const 9) (i64.const 9) (i32.const 600) (i32.const 400)))
    (i32.const 0))
)
