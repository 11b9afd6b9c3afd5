package scheduler_test

import (
	"fmt"
	"sync"

	"github.com/wasmactor/wasmactor/scheduler"
)

// inbox is a Runner: each turn drains a batch from its mailbox, as an
// instance delivers a batch of messages in one guest call.
type inbox struct {
	mb   scheduler.Mailbox[string]
	buf  []string
	done *sync.WaitGroup
}

func (in *inbox) Turn() bool {
	in.buf = in.mb.Drain(in.buf[:0], 2)
	for _, m := range in.buf {
		fmt.Println(m)
		in.done.Done()
	}
	return in.mb.Len() > 0 // more left: back of the run queue
}

func Example() {
	s := scheduler.New(scheduler.Config{Workers: 1})
	defer s.Close()

	var done sync.WaitGroup
	in := &inbox{done: &done}
	task := s.NewTask(in)

	done.Add(3)
	in.mb.Push("hello")
	in.mb.Push("world")
	in.mb.PushSystem("stop") // the system lane overtakes user messages
	task.Wake()
	done.Wait()
	// Output:
	// stop
	// hello
	// world
}
