package engine

// Failure is how an instance dies: every actor in it stops with Reason.
//
// Reasons (docs/abi.md): "trap: <message>", "deadline", "panic: <message>"
// (the guest called the fail import), "exit: <code>" (WASI proc_exit),
// "oom: <detail>" (memory growth refused at the page limit, or no room for the
// inbox), "protocol: <detail>" (the guest broke the ABI, e.g. an out-of-range
// pointer in an export's result), "host panic: <value>" (a Go panic in a
// [Host] callback), "canceled" (the caller's context), "shutdown" (the
// instance or engine was closed).
type Failure struct {
	Reason string
	// Err is the underlying error (wazero's, with the guest stack trace), or nil.
	Err error
}

func (f *Failure) Error() string {
	return "wasmactor: instance failed: " + f.Reason
}

// Unwrap returns f.Err.
func (f *Failure) Unwrap() error { return f.Err }
