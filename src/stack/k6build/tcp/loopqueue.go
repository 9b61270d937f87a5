package tcp

import "sync"

// loopQueue runs tasks, queued from any goroutine, on the VU event loop in FIFO order.
//
// While open it always holds exactly one registered event-loop callback, which keeps the
// VU iteration alive (that is how an open socket keeps its iteration running). close()
// releases it after the already-queued tasks have run. It starts no goroutine.
//
// A registered callback must be used exactly once, and new ones may only be registered from
// the event loop; so the held callback is spent to schedule one drain, and the drain (which
// runs on the loop) registers the next one.
type loopQueue struct {
	register func() func(func() error)

	mu        sync.Mutex
	hold      func(func() error) // the registered, not yet used callback; nil while a drain is scheduled
	pending   []func() error
	scheduled bool
	closed    bool
}

// newLoopQueue must be called on the event loop.
func newLoopQueue(register func() func(func() error)) *loopQueue {
	return &loopQueue{register: register, hold: register()}
}

// queue adds a task; it is dropped if the queue is already closed. Safe from any goroutine.
func (q *loopQueue) queue(task func() error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.pending = append(q.pending, task)
	if q.scheduled {
		q.mu.Unlock()
		return
	}
	q.scheduled = true
	cb := q.hold
	q.hold = nil
	q.mu.Unlock()
	cb(q.drain)
}

// close stops accepting tasks and lets the event loop go once the queued ones have run.
// Safe from any goroutine and idempotent.
func (q *loopQueue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	if q.scheduled { // the pending drain runs the remaining tasks and does not re-register
		q.mu.Unlock()
		return
	}
	cb := q.hold
	q.hold = nil
	q.mu.Unlock()
	cb(func() error { return nil })
}

// drain runs on the event loop.
func (q *loopQueue) drain() error {
	q.mu.Lock()
	tasks := q.pending
	q.pending = nil
	q.scheduled = false
	if !q.closed {
		q.hold = q.register()
	}
	q.mu.Unlock()
	for _, t := range tasks {
		if err := t(); err != nil {
			// The iteration is being aborted (a listener threw). The remaining tasks only touch
			// JS-visible state; sockets release their resources when the VU context is cancelled.
			return err
		}
	}
	return nil
}
