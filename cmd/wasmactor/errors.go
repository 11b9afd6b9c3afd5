package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wasmactor/wasmactor"
	"github.com/wasmactor/wasmactor/internal/abi"
	"github.com/wasmactor/wasmactor/transport"
)

// Exit codes. Scripts branch on them, so they never change meaning; the
// root command's help lists them.
const (
	exitOK          = 0
	exitFailure     = 1 // anything not listed below (internal errors, build failures)
	exitUsage       = 2 // bad flags or arguments, bad JSON, bad PID text
	exitUnreachable = 3 // node unreachable, handshake refused (wrong cookie), target node down; a listing missing nodes that did not answer
	exitNotFound    = 4 // unknown factory, actor, name or node; stale PID
	exitTimeout     = 5 // no reply in time
	exitRejected    = 6 // bad or oversized module or message, name taken, mailbox full, a limit reached
	exitPermission  = 7 // the token does not allow the request, or has expired
	exitRefused     = 8 // a move or undeploy refused; the actor or module is as it was
)

const exitCodesHelp = `Exit codes:
  0  success
  1  failure not listed below (internal error, build failure)
  2  usage: bad flags or arguments, bad JSON, bad PID text
  3  node unreachable, handshake refused (wrong cookie), or target node down;
     ps and nodes: some nodes did not answer (named on stderr, one line each;
     what the others answered is printed)
  4  not found: unknown factory, actor, name or node; stale PID
  5  timeout: no reply in time
  6  rejected: bad or oversized module or message, name taken, mailbox full,
     a limit reached; a send to a group that some members refused
  7  permission: the token does not allow the request (its role, factories
     or names), or it has expired
  8  refused: an upgrade, migration, drain or undeploy did not happen and
     the actor or module is as it was (cannot snapshot, snapshot or restore
     failed, asks in flight, module in use)`

// exitError is a failure with the exit code and message already decided.
type exitError struct {
	code int
	msg  string
	err  error
	// whole says msg is the complete line: context added by callers (which
	// command was running) is dropped. Failures to reach the node are about
	// the node, whatever the command.
	whole bool
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...), err: err}
}

// failWhole is fail for a message that stands alone (see exitError.whole).
func failWhole(code int, err error, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...), err: err, whole: true}
}

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, msg: fmt.Sprintf(format, args...)}
}

// sentinelCodes maps the errors of the Go API (met by `node` and `demo`)
// and, through their sentinels (abi.Errno.Err), the codes a node answers
// with.
var sentinelCodes = []struct {
	err  error
	code int
}{
	{wasmactor.ErrNoProc, exitNotFound},
	{wasmactor.ErrStaleIncarnation, exitNotFound},
	{wasmactor.ErrUnknownFactory, exitNotFound},
	{wasmactor.ErrAmbiguousFactory, exitUsage},
	{wasmactor.ErrNotFound, exitNotFound},
	{wasmactor.ErrUnknownNode, exitNotFound},
	{wasmactor.ErrNodeDown, exitUnreachable},
	{wasmactor.ErrTimeout, exitTimeout},
	{transport.ErrHandshake, exitUnreachable},
	{wasmactor.ErrMailboxFull, exitRejected},
	{wasmactor.ErrNameTaken, exitRejected},
	{wasmactor.ErrTooLarge, exitRejected},
	{transport.ErrFrameTooLarge, exitRejected},
	{wasmactor.ErrBadModule, exitRejected},
	{wasmactor.ErrBadPID, exitUsage},
	{wasmactor.ErrBadArgument, exitRejected},
	{wasmactor.ErrLimit, exitRejected},
	{wasmactor.ErrCrashed, exitFailure},
	{wasmactor.ErrCannotSnapshot, exitRefused},
	{wasmactor.ErrSnapshotFailed, exitRefused},
	{wasmactor.ErrRestoreFailed, exitRefused},
	{wasmactor.ErrBusy, exitRefused},
	{wasmactor.ErrInUse, exitRefused},
	{wasmactor.ErrModuleUnavailable, exitNotFound},
	{wasmactor.ErrClosed, exitUnreachable},
	{wasmactor.ErrPermission, exitPermission},
	{errJSON, exitUsage},
	{context.DeadlineExceeded, exitTimeout},
}

// classify turns any error into an exit code and the one line printed for
// it, "wasmactor: ...".
func classify(err error) (int, string) {
	code := exitFailure
	var ee *exitError
	var re *transport.RemoteError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.whole {
			return code, oneLine(ee.msg)
		}
	case errors.As(err, &re):
		// The node sends the exact sentinel as a code (internal/abi).
		code = exitCodeOf(abi.Errno(re.Code).Err())
	default:
		code = exitCodeOf(err)
	}
	return code, oneLine(err.Error())
}

func exitCodeOf(err error) int {
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return exitFailure
}

// oneLine makes msg a single "wasmactor: ..." line. Errors from lower
// layers carry their own "wasmactor: " prefixes; one is enough.
func oneLine(msg string) string {
	msg = strings.TrimSpace(msg)
	for strings.HasPrefix(msg, "wasmactor: ") {
		msg = strings.TrimPrefix(msg, "wasmactor: ")
	}
	msg = strings.ReplaceAll(msg, ": wasmactor: ", ": ")
	lines := strings.FieldsFunc(msg, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	msg = strings.Join(lines, "; ")
	if msg == "" {
		msg = "failed"
	}
	return "wasmactor: " + msg
}
