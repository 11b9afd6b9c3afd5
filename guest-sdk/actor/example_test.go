package actor_test

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wasmactor/wasmactor/guest-sdk/actor"
)

// A PID travels inside messages as the CBOR array [incarnation, serial].
func ExamplePID() {
	type hello struct {
		ReplyTo actor.PID `cbor:"reply_to"`
	}
	b, _ := cbor.Marshal(hello{ReplyTo: actor.PID{Incarnation: 0x3f9a0c11d2e4b607, Serial: 17}})
	var generic map[string]any
	_ = cbor.Unmarshal(b, &generic)
	fmt.Println(generic["reply_to"])

	var back hello
	_ = cbor.Unmarshal(b, &back)
	fmt.Println(back.ReplyTo)
	// Output:
	// [4582988841495082503 17]
	// <3f9a0c11d2e4b607.17>
}

// Hot paths build small messages by hand, reusing one buffer, and parse them
// without fxamacker/cbor's reflection.
func ExampleAppendUint() {
	buf := make([]byte, 0, 32)
	buf = actor.AppendArrayHeader(buf[:0], 2)
	buf = actor.AppendUint(buf, 7)   // sender id
	buf = actor.AppendUint(buf, 300) // sequence number
	fmt.Printf("% x\n", buf)

	n, rest, _ := actor.ReadArrayHeader(buf)
	sender, rest, _ := actor.ReadUint(rest)
	seq, _, _ := actor.ReadUint(rest)
	fmt.Println(n, sender, seq)
	// Output:
	// 82 07 19 01 2c
	// 2 7 300
}
