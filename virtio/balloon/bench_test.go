package balloon_test

import (
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/balloon"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// BenchmarkInflate measures the rate at which the device returns guest
// memory to the host: per iteration the guest's 4 MiB high region, all
// touched, is given up in lists of 256 pages (as Linux sends them), one
// kick for all of them. MB/s is memory returned.
func BenchmarkInflate(b *testing.B) {
	for _, order := range []struct {
		name string
		pfn  func(i int) uint32
	}{
		{"ascending", func(i int) uint32 { return uint32(highPFN + i) }},
		// Linux's balloon gives pages up in whatever order the allocator
		// hands them out; descending order defeats run coalescing.
		{"descending", func(i int) uint32 { return uint32(highEnd/balloon.PageSize - 1 - i) }},
	} {
		b.Run(order.name, func(b *testing.B) {
			f := newFixture(b, fullConfig(), allFeatures)
			const pages = (highEnd - highBase) / balloon.PageSize
			lists := make([][]byte, 0, pages/256)
			for c := 0; c < pages/256; c++ {
				pfns := make([]uint32, 256)
				for i := range pfns {
					pfns[i] = order.pfn(c*256 + i)
				}
				lists = append(lists, pfnList(pfns...))
			}
			b.SetBytes(pages * balloon.PageSize)
			for b.Loop() {
				b.StopTimer()
				f.touch(b, highPFN, pages)
				q := freshQueues(b, f)
				for _, l := range lists {
					q.AddChain(virtiotest.Readable(l))
				}
				b.StartTimer()
				f.drv.Kick(0)
			}
			if s := f.dev.Status(); s.Inflated == 0 || s.BadPages != 0 {
				b.Fatalf("status %+v", s)
			}
		})
	}
}

// freshQueues re-initializes the device with fresh queues, so that each
// iteration's chains fit in the inflate queue, and returns that.
func freshQueues(b *testing.B, f *fixture) *virtiotest.Queue {
	b.Helper()
	for i := range f.q {
		f.q[i] = virtiotest.NewQueue(f.mem, guestmem.Addr(0x1000+i*0x40000), balloon.QueueSize)
	}
	if _, err := f.drv.Init(virtio.FeatureVersion1|allFeatures, f.q...); err != nil {
		b.Fatal(err)
	}
	return f.q[0]
}
