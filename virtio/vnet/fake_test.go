package vnet_test

import (
	"bytes"
	"errors"
	"sync"
	"syscall"

	"github.com/gluevmm/glue/virtio/vnet"
)

// fakeBackend is an in-memory tap: frames queued with Push are read by the
// device, frames the device writes are recorded. It never blocks: an empty
// receive side reports ErrWouldBlock, a full transmit side EAGAIN (both
// spellings must work).
type fakeBackend struct {
	mu       sync.Mutex
	rx       [][]byte // frames for the guest, header included
	tx       [][]byte // frames from the guest, header included
	txRoom   int      // frames WriteFrame still accepts; <0: unlimited
	readErrs int      // ReadFrame fails this many times first
	reads    int
}

var errBroken = errors.New("fake backend: broken")

func newFakeBackend() *fakeBackend { return &fakeBackend{txRoom: -1} }

// Push queues frames for the device, each behind a zero vnet header.
func (b *fakeBackend) Push(frames ...[]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range frames {
		b.rx = append(b.rx, append(make([]byte, vnet.HeaderLen), f...))
	}
}

// PushRaw queues a frame as is, header included.
func (b *fakeBackend) PushRaw(f []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rx = append(b.rx, bytes.Clone(f))
}

func (b *fakeBackend) ReadFrame(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads++
	if b.readErrs > 0 {
		b.readErrs--
		return 0, errBroken
	}
	if len(b.rx) == 0 {
		return 0, vnet.ErrWouldBlock
	}
	f := b.rx[0]
	b.rx = b.rx[1:]
	return copy(p, f), nil
}

func (b *fakeBackend) WriteFrame(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.txRoom == 0 {
		return 0, syscall.EAGAIN
	}
	if b.txRoom > 0 {
		b.txRoom--
	}
	b.tx = append(b.tx, bytes.Clone(p))
	return len(p), nil
}

// Sent returns and forgets the frames the device wrote.
func (b *fakeBackend) Sent() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	tx := b.tx
	b.tx = nil
	return tx
}

// Waiting returns how many frames the device has not read yet.
func (b *fakeBackend) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rx)
}

func (b *fakeBackend) set(f func(b *fakeBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

// interestRecorder records SetRxInterest calls. Its zero value is on, as
// the device's interest starts on without a call (doc.go): a test that
// made no change of interest happen still reads the device's state.
type interestRecorder struct {
	mu    sync.Mutex
	off   bool
	calls int
}

func (r *interestRecorder) set(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.off = !on
	r.calls++
}

func (r *interestRecorder) get() (on bool, calls int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.off, r.calls
}
