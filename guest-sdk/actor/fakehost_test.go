//go:build !wasip1

package actor

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// call is one import the code under test made.
type call struct {
	op    string
	actor uint64
	to    PID
	ref   uint64
	ms    uint32
	flags uint32
	data  []byte
	text  string

	restart restart
}

// fakeHost records imports and answers them from codes (OK by default).
type fakeHost struct {
	node    uint64
	calls   []call
	codes   map[string]uint32
	serial  uint64
	monRef  uint64
	timer   uint64
	failure string
	names   map[string]PID
	members []PID // every group's members
	record  bool  // keep calls; the allocation test turns it off
	// refuse answers posts to these serials with a code (else codes["post"]).
	refuse map[uint64]uint32
}

func newFakeHost() *fakeHost {
	return &fakeHost{node: 0xabc, codes: map[string]uint32{}, serial: 1000, monRef: 500, names: map[string]PID{}, record: true}
}

func (h *fakeHost) add(c call) uint32 {
	if h.record {
		c.data = append([]byte(nil), c.data...)
		h.calls = append(h.calls, c)
	}
	return h.codes[c.op]
}

func (h *fakeHost) ops() []string {
	var s []string
	for _, c := range h.calls {
		s = append(s, c.op)
	}
	return s
}

func (h *fakeHost) only(t *testing.T, op string) call {
	t.Helper()
	var found []call
	for _, c := range h.calls {
		if c.op == op {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "calls: %v", h.ops())
	return found[0]
}

func (h *fakeHost) selfNode() uint64 { return h.node }
func (h *fakeHost) send(a uint64, to PID, m []byte) uint32 {
	return h.add(call{op: "send", actor: a, to: to, data: m})
}

// sendBatch records each entry as a "post", answered from refuse or
// codes["post"], and marks the refused ones as a host does;
// codes["send_batch"] refuses the whole batch.
func (h *fakeHost) sendBatch(a uint64, buf []byte) int64 {
	if code := h.codes["send_batch"]; code != 0 {
		return -int64(code)
	}
	le := binary.LittleEndian
	var refused int64
	for off := 0; off < len(buf); {
		size, n := int(le.Uint32(buf[off:])), int(le.Uint32(buf[off+24:]))
		to := PID{Incarnation: le.Uint64(buf[off+8:]), Serial: le.Uint64(buf[off+16:])}
		code := h.add(call{op: "post", actor: a, to: to, data: buf[off+postHeader : off+postHeader+n]})
		if c, ok := h.refuse[to.Serial]; ok {
			code = c
		}
		if code != 0 {
			le.PutUint16(buf[off+4:], uint16(code))
			refused++
		}
		off += size
	}
	return refused
}
func (h *fakeHost) ask(a uint64, to PID, ref uint64, ms uint32, m []byte) uint32 {
	return h.add(call{op: "ask", actor: a, to: to, ref: ref, ms: ms, data: m})
}
func (h *fakeHost) reply(a uint64, to PID, ref uint64, m []byte) uint32 {
	return h.add(call{op: "reply", actor: a, to: to, ref: ref, data: m})
}
func (h *fakeHost) spawn(a uint64, name string, args []byte, flags uint32) (PID, uint64, uint32) {
	code := h.add(call{op: "spawn", actor: a, text: name, data: args, flags: flags})
	if code != 0 {
		return PID{}, 0, code
	}
	h.serial++
	var ref uint64
	if flags&uint32(SpawnMonitor) != 0 {
		h.monRef++
		ref = h.monRef
	}
	return PID{Incarnation: h.node, Serial: h.serial}, ref, 0
}
func (h *fakeHost) spawnRequest(a, ref uint64, name string, args []byte, node string, flags uint32, r restart) uint32 {
	return h.add(call{op: "spawn_request", actor: a, ref: ref, text: name + "@" + node, data: args, flags: flags, restart: r})
}
func (h *fakeHost) monitorNode(a uint64, node string) (uint64, uint32) {
	if code := h.add(call{op: "monitor_node", actor: a, text: node}); code != 0 {
		return 0, code
	}
	h.monRef++
	return h.monRef, 0
}
func (h *fakeHost) joinGroup(a uint64, group string) uint32 {
	return h.add(call{op: "join_group", actor: a, text: group})
}
func (h *fakeHost) leaveGroup(a uint64, group string) uint32 {
	return h.add(call{op: "leave_group", actor: a, text: group})
}
func (h *fakeHost) groupMembers(group string, dst []PID) (int, uint32) {
	if code := h.add(call{op: "group_members", text: group, ms: uint32(len(dst))}); code != 0 {
		return 0, code
	}
	copy(dst, h.members)
	return len(h.members), 0
}
func (h *fakeHost) sendGroup(a uint64, group string, msg []byte) (uint32, uint32, uint32) {
	code := h.add(call{op: "send_group", actor: a, text: group, data: msg})
	if code != 0 {
		return 0, 0, code
	}
	return uint32(len(h.members)) - 1, 1, 0
}
func (h *fakeHost) monitorGroup(a uint64, group string) (uint64, uint32) {
	if code := h.add(call{op: "monitor_group", actor: a, text: group}); code != 0 {
		return 0, code
	}
	h.monRef++
	return h.monRef, 0
}
func (h *fakeHost) stop(a uint64, reason string) { h.add(call{op: "stop", actor: a, text: reason}) }
func (h *fakeHost) kill(a uint64, to PID, reason string) uint32 {
	return h.add(call{op: "kill", actor: a, to: to, text: reason})
}
func (h *fakeHost) monitor(a uint64, to PID) uint64 {
	if h.add(call{op: "monitor", actor: a, to: to}) != 0 {
		return 0
	}
	h.monRef++
	return h.monRef
}
func (h *fakeHost) demonitor(a, ref uint64) { h.add(call{op: "demonitor", actor: a, ref: ref}) }
func (h *fakeHost) link(a uint64, to PID) uint32 {
	return h.add(call{op: "link", actor: a, to: to})
}
func (h *fakeHost) unlink(a uint64, to PID) { h.add(call{op: "unlink", actor: a, to: to}) }
func (h *fakeHost) trapExit(a uint64, on bool) {
	var f uint32
	if on {
		f = 1
	}
	h.add(call{op: "trap_exit", actor: a, flags: f})
}
func (h *fakeHost) register(a uint64, name string) uint32 {
	code := h.add(call{op: "register", actor: a, text: name})
	if code == 0 {
		h.names[name] = PID{Incarnation: h.node, Serial: a}
	}
	return code
}
func (h *fakeHost) migrate(a uint64, node string) uint32 {
	return h.add(call{op: "migrate", actor: a, text: node})
}

func (h *fakeHost) unregister(a uint64, name string) {
	h.add(call{op: "unregister", actor: a, text: name})
	delete(h.names, name)
}
func (h *fakeHost) whereis(name string) (PID, uint32) {
	h.add(call{op: "whereis", text: name})
	p, ok := h.names[name]
	if !ok {
		return PID{}, codeNotFound
	}
	return p, 0
}
func (h *fakeHost) sendAfter(a uint64, to PID, ms uint32, m []byte) (uint64, uint32) {
	code := h.add(call{op: "send_after", actor: a, to: to, ms: ms, data: m})
	if code != 0 {
		return 0, code
	}
	h.timer++
	return h.timer, 0
}
func (h *fakeHost) cancelTimer(a, timer uint64) uint32 {
	return h.add(call{op: "cancel_timer", actor: a, ref: timer})
}
func (h *fakeHost) log(a uint64, level Level, m []byte) {
	h.add(call{op: "log", actor: a, flags: uint32(level), text: string(m)})
}
func (h *fakeHost) fail(reason string) {
	h.failure = reason
	h.add(call{op: "fail", text: reason})
}

// testInstance is an instance wired to a fake host with its own factories.
type testInstance struct {
	*instance
	host *fakeHost
}

func newTestInstance(factories map[string]func() Actor) *testInstance {
	h := newFakeHost()
	fs := make(map[string]*factory, len(factories))
	for name, f := range factories {
		fs[name] = &factory{name: name, new: f}
	}
	in := newInstance(h, fs)
	in.diag = io.Discard
	return &testInstance{instance: in, host: h}
}

// run writes the records as one batch into the inbox, as the host does, and
// delivers it.
func (ti *testInstance) run(recs ...record) int32 {
	var b []byte
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return ti.runBytes(b)
}

func (ti *testInstance) runBytes(b []byte) int32 {
	inbox := ti.inboxFor(uint32(len(b)))
	copy(inbox, b)
	return ti.deliver(uint32(len(b)))
}

// Record constructors.
func startRec(id uint64, factory string, args []byte) record {
	return record{kind: kindStart, actor: id, payload: startPayload(factory, args)}
}

func tellRec(id uint64, from PID, payload []byte) record {
	return record{kind: kindTell, actor: id, from: from, payload: payload}
}

func askRec(id uint64, from PID, ref uint64, payload []byte) record {
	return record{kind: kindAsk, actor: id, from: from, ref: ref, payload: payload}
}

func replyRec(id uint64, ref uint64, status uint16, payload []byte) record {
	return record{kind: kindReply, actor: id, ref: ref, status: status, payload: payload}
}

// appendRecord appends one record to a batch, padding it to 8 bytes, as a
// host does. The SDK never builds batches itself.
func appendRecord(b []byte, r record) []byte {
	size := (headerSize + len(r.payload) + 7) &^ 7
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = binary.LittleEndian.AppendUint16(b, r.kind)
	b = binary.LittleEndian.AppendUint16(b, r.status)
	b = binary.LittleEndian.AppendUint64(b, r.actor)
	b = binary.LittleEndian.AppendUint64(b, r.from.Incarnation)
	b = binary.LittleEndian.AppendUint64(b, r.from.Serial)
	b = binary.LittleEndian.AppendUint64(b, r.ref)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(r.payload)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, r.payload...)
	for pad := size - headerSize - len(r.payload); pad > 0; pad-- {
		b = append(b, 0)
	}
	return b
}

// startPayload builds a START/RESTORE payload (tests and fake hosts).
func startPayload(name string, args []byte) []byte {
	p := binary.LittleEndian.AppendUint16(nil, uint16(len(name)))
	p = append(p, name...)
	return append(p, args...)
}
