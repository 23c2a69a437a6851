package vcpu

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/kvm"
)

// State is a vCPU's run state.
type State int32

// The states. A vCPU moves between Running and Paused on request; Stopped
// is final.
const (
	Running State = iota
	Paused
	Stopped
)

func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Paused:
		return "paused"
	}
	return "stopped"
}

// stateMachine is a request/acknowledge pair: other goroutines set the
// requested state and kick the vCPU; the vCPU thread acknowledges by
// reaching it (parking for Paused, returning for Stopped). The requested
// state is mirrored in an atomic so the exit path checks it without a lock.
type stateMachine struct {
	mu   sync.Mutex
	cond *sync.Cond
	want State        // guarded by mu
	have State        // guarded by mu; written only by the vCPU thread
	fast atomic.Int32 // mirror of want
}

func (m *stateMachine) init() { m.cond = sync.NewCond(&m.mu) }

func (m *stateMachine) requested() State { return State(m.fast.Load()) }

// request records s unless the vCPU is already stopping.
func (m *stateMachine) request(s State) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.want == Stopped {
		return false
	}
	m.want = s
	m.fast.Store(int32(s))
	m.cond.Broadcast()
	return true
}

// ended is called by the vCPU thread when Run returns, for any reason.
func (m *stateMachine) ended() {
	m.mu.Lock()
	m.want, m.have = Stopped, Stopped
	m.fast.Store(int32(Stopped))
	m.cond.Broadcast()
	m.mu.Unlock()
}

// park is called by the vCPU thread, outside KVM_RUN, when the requested
// state is not Running. It acknowledges a pause and blocks until resumed
// (true) or stopped (false).
func (v *VCPU) park() bool {
	m := &v.state
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.want == Paused {
		if m.have != Paused {
			m.have = Paused
			m.cond.Broadcast()
			// Tell a kvmclock guest that it was stopped on purpose, so its
			// watchdogs do not report soft lockups after a long pause.
			if err := v.cfg.VCPU.KVMClockCtrl(); err != nil && !errors.Is(err, kvm.ErrKVMClockUnavailable) {
				v.log.Warn("kvmclock pause notification", "err", err)
			}
		}
		m.cond.Wait()
	}
	if m.want == Stopped {
		return false
	}
	m.have = Running
	return true
}

// Pause asks the vCPU to leave the guest and park, and waits until it has
// (or has stopped for good, or ctx ends). Pausing a paused vCPU does
// nothing.
func (v *VCPU) Pause(ctx context.Context) error {
	if !v.state.request(Paused) {
		return nil // stopping: it will never run again anyway
	}
	v.kick()
	return v.waitFor(ctx, func(have State) bool { return have != Running })
}

// Resume lets a paused vCPU run on from where it stopped. Resuming a
// running vCPU does nothing.
func (v *VCPU) Resume() {
	v.state.request(Running)
}

// Stop makes Run return ErrStopped as soon as possible; it does not wait.
func (v *VCPU) Stop() {
	m := &v.state
	m.mu.Lock()
	m.want = Stopped
	m.fast.Store(int32(Stopped))
	m.cond.Broadcast()
	m.mu.Unlock()
	v.kick()
}

// State returns the state the vCPU thread has reached.
func (v *VCPU) State() State {
	v.state.mu.Lock()
	defer v.state.mu.Unlock()
	return v.state.have
}

// waitFor blocks until done(have) holds or ctx ends. sync.Cond cannot wait
// on a context, so a helper goroutine broadcasts when ctx ends.
func (v *VCPU) waitFor(ctx context.Context, done func(State) bool) error {
	m := &v.state
	stop := context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for !done(m.have) {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.cond.Wait()
	}
	return nil
}
