package virtio_test

import (
	"slices"
	"testing"

	"github.com/gluevmm/glue/virtio"
)

// busy counts batches per queue and always has more work for queues below
// its bound.
type busy struct{ calls []int }

func (b *busy) notify(q int) bool {
	if q < 0 || q >= len(b.calls) {
		return false
	}
	b.calls[q]++
	return true
}

func TestKicks(t *testing.T) {
	t.Parallel()
	b := &busy{calls: make([]int, 3)}
	k := virtio.NewKicks(3, b.notify)
	if k.Run(7) {
		t.Fatal("a queue without work reported work left")
	}
	if !k.Run(0) || b.calls[0] != virtio.KickRounds {
		t.Fatalf("Run made %d batches, want %d", b.calls[0], virtio.KickRounds)
	}
	var resumed []int
	kick := func(q int) { resumed = append(resumed, q) }
	k.Resume(kick)
	if len(resumed) != 0 {
		t.Fatalf("resumed %v with nothing deferred", resumed)
	}
	k.Defer(0)
	k.Defer(2)
	k.Defer(-1) // out of range: ignored
	k.Defer(3)
	k.Resume(kick)
	if !slices.Equal(resumed, []int{0, 2}) {
		t.Fatalf("resumed %v, want [0 2]", resumed)
	}
	resumed = nil
	k.Resume(kick) // marks are cleared before kick runs
	if len(resumed) != 0 {
		t.Fatalf("resumed %v twice", resumed)
	}
	k.Defer(1)
	k.Defer(2)
	k.Forget(1)
	k.Resume(kick)
	if !slices.Equal(resumed, []int{2}) {
		t.Fatalf("resumed %v after Forget(1), want [2]", resumed)
	}
	resumed = nil
	k.Defer(0)
	k.Clear()
	k.Resume(kick)
	if len(resumed) != 0 {
		t.Fatalf("resumed %v after Clear", resumed)
	}
}
