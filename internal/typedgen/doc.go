// Package typedgen writes the CBOR codecs of typed messages: the code
// `wasmactor gen` puts beside a package's message types.
//
// # Declaring messages
//
// A message type is a struct type whose doc comment holds the directive
//
//	//wasmactor:message [name=NAME] [reply=TYPE]
//
// name is the type's name on the wire (default: the Go type name); its type
// tag is typed.ID(name). reply names the type an ask of this message is
// answered with (a message type too), which lets typed calls infer their
// answer type.
//
// Fields follow fxamacker/cbor's rules, so the generated form is the form
// reflection writes: exported fields only, keyed by their `cbor` (else
// `json`) tag name or their Go name, `-` skips a field and `omitempty`
// leaves an empty one out. A struct is a CBOR map, so JSON typed on a
// command line converts to it.
//
// # Field types
//
// bool, string, every integer and float type, []byte; named types of this
// package whose underlying type is one of those; message types of this
// package (nested); types of other packages that have AppendCBOR and
// ReadCBOR methods (actor.PID); and pointers, slices and map[string]
// of any of these. Anything else is an error naming the field.
//
// # What is generated
//
// For each message type T: MessageType, MessageName, ReplyType (with
// reply=), AppendCBOR (body, no tag; allocation-free), ReadCBOR (resets
// the value, accepts T's tag in front, skips unknown keys; allocates only
// for strings, byte strings, slices, maps and pointers), and MarshalCBOR /
// UnmarshalCBOR, so fxamacker/cbor (the untyped APIs) reads and writes the
// same tagged form.
package typedgen
