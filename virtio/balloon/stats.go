package balloon

import (
	"encoding/binary"
	"io"
	"log/slog"

	"github.com/gluevmm/glue/virtio"
)

// A statistics buffer is a packed array of struct virtio_balloon_stat
// (le16 tag, le64 val: 10 bytes each). MaxStatsBytes caps what is read of
// one: 64 entries, four times what Linux sends.
const (
	statSize      = 10
	MaxStatsBytes = 64 * statSize
)

// Stats are the guest's memory statistics (virtio 1.2 section 5.5.6.3),
// in bytes for the memory amounts, as events or pages for the counts;
// Known says which of them the driver reported at all.
type Stats struct {
	Values [NumStats]uint64
	Known  [NumStats]bool
}

// The statistics tags (VIRTIO_BALLOON_S_*), indexes into Stats.Values.
const (
	StatSwapIn        = 0  // pages swapped in
	StatSwapOut       = 1  // pages swapped out
	StatMajorFaults   = 2  // major page faults
	StatMinorFaults   = 3  // minor page faults
	StatFreeMemory    = 4  // bytes unused
	StatTotalMemory   = 5  // bytes of memory in all
	StatAvailable     = 6  // bytes available to new work without swapping
	StatDiskCaches    = 7  // bytes of disk caches
	StatHugetlbAllocs = 8  // huge page allocations
	StatHugetlbFails  = 9  // huge page allocations that failed
	StatOOMKills      = 10 // OOM kills
	StatAllocStalls   = 11 // allocation stalls
	StatAsyncScans    = 12 // pages scanned by kswapd
	StatDirectScans   = 13 // pages scanned directly
	StatAsyncReclaims = 14 // pages reclaimed by kswapd
	StatDirectReclaim = 15 // pages reclaimed directly
	NumStats          = 16
)

// StatNames are the statistics' names as glue prints them, by tag.
var StatNames = [NumStats]string{
	"swap-in", "swap-out", "major-faults", "minor-faults",
	"free-memory", "total-memory", "available-memory", "disk-caches",
	"hugetlb-allocations", "hugetlb-failures", "oom-kills", "alloc-stalls",
	"async-scans", "direct-scans", "async-reclaims", "direct-reclaims",
}

// parseStats reads a statistics buffer: whole entries only, at most
// MaxStatsBytes, the last value of a repeated tag. Unknown tags and a
// length that is not a whole number of entries count as malformed.
func parseStats(b []byte) (s Stats, malformed int) {
	if len(b)%statSize != 0 {
		malformed++
	}
	for i := 0; i+statSize <= len(b); i += statSize {
		tag := binary.LittleEndian.Uint16(b[i:])
		if tag >= NumStats {
			malformed++
			continue
		}
		s.Values[tag] = binary.LittleEndian.Uint64(b[i+2:])
		s.Known[tag] = true
	}
	return s, malformed
}

// takeStats takes the driver's statistics buffers: each is parsed once
// into the device's copy and the last one is held, to be returned when
// the host wants fresh numbers. A driver that sends another while one is
// held gets the older one back at once.
func (d *Device) takeStats(q *virtio.Queue) bool {
	for range QueueSize {
		c := q.Pop()
		if c == nil {
			break
		}
		var buf [MaxStatsBytes]byte
		n, _ := io.ReadFull(c.Reader(), buf[:])
		if c.ReadableLen() > MaxStatsBytes {
			d.bad(counterMalformed, "virtio-balloon: statistics buffer too long; read in part", slog.Uint64("len", uint64(c.ReadableLen())))
		}
		st, malformed := parseStats(buf[:n])
		if malformed > 0 {
			d.bad(counterMalformed, "virtio-balloon: malformed statistics buffer", slog.Uint64("len", uint64(c.ReadableLen())))
		}
		d.stats = st
		d.statsUpdates++
		if d.statsHeld != nil {
			q.AddUsed(d.statsHeld.Head(), 0)
		}
		d.statsHeld = c
	}
	q.SignalUsed()
	return q.Pending()
}

// RequestStats returns the statistics buffer the device holds to the
// driver, which answers with fresh statistics on the statistics queue
// (Status().StatsUpdates grows). It reports whether there was a buffer to
// return: false before the driver sent one, or without STATS_VQ.
func (d *Device) RequestStats() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := d.queues[roleStats]
	if q == nil || d.statsHeld == nil {
		return false
	}
	q.AddUsed(d.statsHeld.Head(), 0)
	d.statsHeld = nil
	q.SignalUsed()
	return true
}
