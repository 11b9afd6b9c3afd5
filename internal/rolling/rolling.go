// Package rolling runs one operation over many items a few at a time, as
// rolling upgrades and drains do: at most a given number in flight, and by
// default no new one started after the first failure. The node's Go API
// and the CLI both use it, so both roll the same way.
package rolling

import (
	"context"
	"sync"
)

// Run calls do for the items in order, at most parallel at once (0 or less
// means 1), and report once per item as its call ends, one report at a time
// (reports of calls running in parallel may come in any order). Unless
// keepGoing, the first failure stops new calls; those in flight finish and
// are reported. Run stops starting calls when ctx is done. It returns how
// many items were never started.
func Run[T, R any](ctx context.Context, items []T, parallel int, keepGoing bool,
	do func(context.Context, T) (R, error), report func(T, R, error)) (notStarted int) {
	parallel = max(parallel, 1)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // serialises report and guards failed
		failed bool
		slots  = make(chan struct{}, parallel)
	)
	for i, item := range items {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return len(items) - i
		}
		mu.Lock()
		stop := failed && !keepGoing
		mu.Unlock()
		if stop || ctx.Err() != nil {
			<-slots
			wg.Wait()
			return len(items) - i
		}
		wg.Go(func() {
			defer func() { <-slots }()
			r, err := do(ctx, item)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
			}
			report(item, r, err)
		})
	}
	wg.Wait()
	return 0
}
