package main

import (
	"github.com/spf13/cobra"

	"github.com/wasmactor/wasmactor/guest-sdk/typed"
)

// Typed messages on the command line: --type NAME tags the JSON's CBOR
// with typed.ID(NAME), so no schema is needed to address a type; the body
// is the JSON as it is, which is the form generated codecs read.

func addTypeFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, "type", "", "send a typed message: NAME's type tag over the JSON body")
}

// typedPayload tags body with the type named name.
func typedPayload(name string, body []byte) []byte {
	return append(typed.AppendTag(make([]byte, 0, 5+len(body)), typed.ID(name)), body...)
}

// typedReply unwraps a typed reply: a typed message gives its type tag and
// body, an error reply (typed.Error) the error, anything else itself.
func typedReply(reply []byte) (tag string, body []byte, err error) {
	id, body, ok := typed.Split(reply)
	if !ok {
		return "", reply, nil
	}
	if id != typed.ErrorType {
		return typed.Hex(id), body, nil
	}
	e := new(typed.Error)
	if err := typed.Unmarshal(body, e); err != nil {
		return "", nil, fail(exitFailure, err, "the actor answered with a malformed error: %v", err)
	}
	code := exitFailure
	switch e.Code {
	case typed.CodeUnknownType, typed.CodeMalformed, typed.CodeNotAsk:
		code = exitRejected
	}
	return "", nil, fail(code, e, "the actor answered with an error: %s", e.Message)
}
