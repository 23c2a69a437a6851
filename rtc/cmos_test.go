package rtc

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newAt(t time.Time) (*CMOS, *fakeClock) {
	clk := &fakeClock{now: t}
	return New(clk.Now, 512*mib, 0), clk
}

func rd(c *CMOS, idx byte) byte {
	c.Write(portIndex, []byte{idx})
	var b [1]byte
	c.Read(portData, b[:])
	return b[0]
}

func wr(c *CMOS, idx, v byte) {
	c.Write(portIndex, []byte{idx})
	c.Write(portData, []byte{v})
}

type timeRegsWant struct {
	sec, min, hour, wday, day, mon, year, century byte
}

func readTime(c *CMOS) timeRegsWant {
	return timeRegsWant{
		sec: rd(c, regSeconds), min: rd(c, regMinutes), hour: rd(c, regHours), wday: rd(c, regWeekday),
		day: rd(c, regDay), mon: rd(c, regMonth), year: rd(c, regYear), century: rd(c, regCentury),
	}
}

func TestTimeRegisters(t *testing.T) {
	t.Parallel()
	afternoon := time.Date(2026, time.March, 14, 15, 9, 26, 535_000_000, time.UTC) // a Saturday
	tests := []struct {
		name  string
		clock time.Time
		regB  byte
		want  timeRegsWant
	}{
		{name: "bcd 24h", clock: afternoon, regB: b24Hour,
			want: timeRegsWant{0x26, 0x09, 0x15, 0x07, 0x14, 0x03, 0x26, 0x20}},
		{name: "binary 24h", clock: afternoon, regB: b24Hour | bBinary,
			want: timeRegsWant{26, 9, 15, 7, 14, 3, 26, 20}},
		{name: "bcd 12h pm", clock: afternoon, regB: 0,
			want: timeRegsWant{0x26, 0x09, 0x80 | 0x03, 0x07, 0x14, 0x03, 0x26, 0x20}},
		{name: "binary 12h pm", clock: afternoon, regB: bBinary,
			want: timeRegsWant{26, 9, 0x80 | 3, 7, 14, 3, 26, 20}},
		{name: "bcd 12h midnight", clock: time.Date(1999, time.December, 31, 0, 0, 5, 0, time.UTC), regB: 0,
			want: timeRegsWant{0x05, 0x00, 0x12, 0x06, 0x31, 0x12, 0x99, 0x19}},
		{name: "bcd 12h noon", clock: time.Date(2000, time.February, 29, 12, 59, 59, 0, time.UTC), regB: 0,
			want: timeRegsWant{0x59, 0x59, 0x80 | 0x12, 0x03, 0x29, 0x02, 0x00, 0x20}},
		{name: "binary 24h midnight", clock: time.Date(2100, time.January, 3, 0, 0, 0, 0, time.UTC), regB: b24Hour | bBinary,
			want: timeRegsWant{0, 0, 0, 1, 3, 1, 0, 21}},
		{name: "local clock shown in utc", clock: time.Date(2026, time.March, 14, 16, 9, 26, 0, time.FixedZone("CET", 3600)), regB: b24Hour,
			want: timeRegsWant{0x26, 0x09, 0x15, 0x07, 0x14, 0x03, 0x26, 0x20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newAt(tc.clock)
			wr(c, regB, tc.regB)
			if got := readTime(c); got != tc.want {
				t.Errorf("time registers = %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestPowerOnRegisters(t *testing.T) {
	t.Parallel()
	c, clk := newAt(time.Date(2026, 1, 1, 0, 0, 0, 999_900_000, time.UTC))
	tests := []struct {
		name string
		idx  byte
		want byte
	}{
		{name: "A", idx: regA, want: aDefault},
		{name: "B", idx: regB, want: bDefault},
		{name: "D", idx: regD, want: dVRT},
		{name: "alarm", idx: 0x01, want: 0},
		{name: "other cmos", idx: 0x40, want: 0},
	}
	for _, tc := range tests {
		if got := rd(c, tc.idx); got != tc.want {
			t.Errorf("%s (%#x) = %#x, want %#x", tc.name, tc.idx, got, tc.want)
		}
	}
	// UIP is never stuck, whatever the clock does.
	for range 5000 {
		if rd(c, regA)&aUIP != 0 {
			t.Fatalf("UIP set at %v", clk.Now())
		}
		clk.Advance(37 * time.Microsecond)
	}
}

func TestMemoryRegisters(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	tests := []struct {
		name           string
		low, high      uint64
		base, ext, mid uint16
		above4G        uint32
	}{
		{name: "512 KiB", low: 512 * kib, base: 512},
		{name: "8 MiB", low: 8 * mib, base: 640, ext: 7 * 1024},
		{name: "32 MiB", low: 32 * mib, base: 640, ext: 31 * 1024, mid: 16 * 16},
		{name: "512 MiB", low: 512 * mib, base: 640, ext: 0xffff, mid: (512 - 16) * 16},
		// 6 GiB as x86.RAMSpans lays it out: 3 GiB low, 3 GiB from 4 GiB.
		{name: "6 GiB", low: 3 * gib, high: 3 * gib, base: 640, ext: 0xffff, mid: (3072 - 16) * 16, above4G: 3 * gib / block},
		{name: "capped", low: 1 << 40, high: 1 << 40, base: 640, ext: 0xffff, mid: 0xffff, above4G: 0xffffff},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := New(func() time.Time { return time.Unix(0, 0) }, tc.low, tc.high)
			le16 := func(lo byte) uint16 { return uint16(rd(c, lo)) | uint16(rd(c, lo+1))<<8 }
			if got := le16(regBaseLo); got != tc.base {
				t.Errorf("base memory = %d KiB, want %d", got, tc.base)
			}
			if got := le16(regExtLo); got != tc.ext {
				t.Errorf("extended memory (0x17) = %#x KiB, want %#x", got, tc.ext)
			}
			if got := le16(regExt2Lo); got != tc.ext {
				t.Errorf("extended memory (0x30) = %#x KiB, want %#x", got, tc.ext)
			}
			if got := le16(regMidLo); got != tc.mid {
				t.Errorf("memory above 16 MiB = %#x blocks, want %#x", got, tc.mid)
			}
			got := uint32(rd(c, regHighLo)) | uint32(rd(c, regHighLo+1))<<8 | uint32(rd(c, regHighLo+2))<<16
			if got != tc.above4G {
				t.Errorf("memory above 4 GiB = %#x blocks, want %#x", got, tc.above4G)
			}
			var sum uint16
			for i := byte(csumFirst); i <= csumLast; i++ {
				sum += uint16(rd(c, i))
			}
			if csum := uint16(rd(c, regCsumHi))<<8 | uint16(rd(c, regCsumHi+1)); csum != sum {
				t.Errorf("checksum = %#x, want %#x", csum, sum)
			}
		})
	}
}

func TestSetTime(t *testing.T) {
	t.Parallel()
	host := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	tests := []struct {
		name   string
		regB   byte
		useSET bool
		writes []struct{ idx, v byte }
		want   time.Time // guest time right after the writes
	}{
		{name: "linux set_time bcd", regB: b24Hour, useSET: true,
			writes: []struct{ idx, v byte }{{regYear, 0x99}, {regMonth, 0x12}, {regDay, 0x31}, {regHours, 0x23}, {regMinutes, 0x59}, {regSeconds, 0x58}, {regCentury, 0x19}},
			want:   time.Date(1999, time.December, 31, 23, 59, 58, 0, time.UTC)},
		{name: "binary 12h with SET", regB: bBinary, useSET: true,
			writes: []struct{ idx, v byte }{{regHours, 0x80 | 12}, {regMinutes, 30}, {regSeconds, 0}},
			want:   time.Date(2026, time.March, 14, 12, 30, 0, 0, time.UTC)},
		{name: "12h midnight", regB: 0, useSET: true,
			writes: []struct{ idx, v byte }{{regHours, 0x12}},
			want:   time.Date(2026, time.March, 14, 0, 9, 26, 0, time.UTC)},
		{name: "single field without SET", regB: b24Hour,
			writes: []struct{ idx, v byte }{{regMinutes, 0x45}},
			want:   time.Date(2026, time.March, 14, 15, 45, 26, 0, time.UTC)},
		{name: "year without SET", regB: b24Hour | bBinary,
			writes: []struct{ idx, v byte }{{regYear, 30}},
			want:   time.Date(2030, time.March, 14, 15, 9, 26, 0, time.UTC)},
		{name: "bad bcd ignored", regB: b24Hour,
			writes: []struct{ idx, v byte }{{regMinutes, 0x6a}},
			want:   host},
		{name: "month 13 ignored", regB: b24Hour,
			writes: []struct{ idx, v byte }{{regMonth, 0x13}},
			want:   host},
		{name: "30 february ignored", regB: b24Hour, useSET: true,
			writes: []struct{ idx, v byte }{{regMonth, 0x02}, {regDay, 0x30}},
			want:   host},
		{name: "12h hour 13 ignored", regB: 0,
			writes: []struct{ idx, v byte }{{regHours, 0x13}},
			want:   host},
		{name: "weekday ignored", regB: b24Hour,
			writes: []struct{ idx, v byte }{{regWeekday, 0x02}},
			want:   host},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newAt(host.Add(400 * time.Millisecond))
			wr(c, regB, tc.regB)
			if tc.useSET {
				wr(c, regB, tc.regB|bSET)
			}
			for _, w := range tc.writes {
				wr(c, w.idx, w.v)
				clk.Advance(100 * time.Millisecond) // frozen while SET is on
			}
			if tc.useSET {
				wr(c, regB, tc.regB)
			}
			// Read back in binary 24h so the check does not depend on the format.
			check := func(want time.Time) {
				t.Helper()
				wr(c, regB, b24Hour|bBinary)
				got := readTime(c)
				w := timeRegsWant{byte(want.Second()), byte(want.Minute()), byte(want.Hour()), byte(want.Weekday() + 1),
					byte(want.Day()), byte(want.Month()), byte(want.Year() % 100), byte(want.Year() / 100)}
				if got != w {
					t.Errorf("time registers = %+v, want %+v (%v)", got, w, want)
				}
			}
			check(tc.want)
			// The clock keeps running from the time the guest set.
			clk.Advance(90 * time.Second)
			check(tc.want.Add(90 * time.Second))
		})
	}
}

func TestSETFreezes(t *testing.T) {
	t.Parallel()
	c, clk := newAt(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	wr(c, regB, b24Hour|bSET|bUIE)
	if got := rd(c, regB); got != b24Hour|bSET {
		t.Errorf("B = %#x: UIE must clear while SET is on", got)
	}
	before := readTime(c)
	clk.Advance(3 * time.Hour)
	if got := readTime(c); got != before {
		t.Errorf("time moved with SET on: %+v, then %+v", before, got)
	}
	if got := rd(c, regC); got&cUF != 0 {
		t.Errorf("C = %#x: no update cycle ends while SET is on", got)
	}
	wr(c, regB, b24Hour)
	if got := rd(c, regHours); got != 0x10 {
		t.Errorf("hours after clearing SET = %#x, want 0x10 (the frozen time resumes)", got)
	}
}

func TestConsistentRead(t *testing.T) {
	t.Parallel()
	c, clk := newAt(time.Date(2026, 12, 31, 23, 59, 59, 999_990_000, time.UTC))
	// Linux reads the seconds first; the year changes under its feet.
	sec := rd(c, regSeconds)
	clk.Advance(20 * time.Microsecond)
	got := timeRegsWant{sec: sec, min: rd(c, regMinutes), hour: rd(c, regHours), wday: rd(c, regWeekday),
		day: rd(c, regDay), mon: rd(c, regMonth), year: rd(c, regYear), century: rd(c, regCentury)}
	want := timeRegsWant{0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x26, 0x20}
	if got != want {
		t.Errorf("torn read: %+v, want %+v", got, want)
	}
	// Reading the seconds again samples the new time.
	if got := rd(c, regSeconds); got != 0x00 {
		t.Errorf("seconds = %#x, want 0", got)
	}
	if got := rd(c, regYear); got != 0x27 {
		t.Errorf("year = %#x, want 0x27", got)
	}
	// A sample a second old is not used.
	clk.Advance(61 * time.Second)
	if got := rd(c, regMinutes); got != 0x01 {
		t.Errorf("minutes = %#x, want 0x01", got)
	}
}

func TestRegisterC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		regB    byte
		advance time.Duration
		want    byte
	}{
		{name: "same second", regB: b24Hour, advance: 300 * time.Millisecond, want: 0},
		{name: "ticked", regB: b24Hour, advance: time.Second, want: cUF},
		{name: "ticked with UIE", regB: b24Hour | bUIE, advance: 2 * time.Second, want: cUF | cIRQF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, clk := newAt(time.Date(2026, 1, 1, 0, 0, 0, 100_000_000, time.UTC))
			wr(c, regB, tc.regB)
			clk.Advance(tc.advance)
			if got := rd(c, regC); got != tc.want {
				t.Errorf("C = %#x, want %#x", got, tc.want)
			}
			if got := rd(c, regC); got != 0 {
				t.Errorf("C = %#x on the second read, want 0", got)
			}
			wr(c, regC, 0xff)
			wr(c, regD, 0x00)
			if got := rd(c, regD); got != dVRT {
				t.Errorf("D = %#x after a write, want %#x", got, dVRT)
			}
		})
	}
}

func TestRegisterAWrites(t *testing.T) {
	t.Parallel()
	c, _ := newAt(time.Unix(0, 0))
	wr(c, regA, 0xff)
	if got := rd(c, regA); got != 0x7f {
		t.Errorf("A = %#x after writing 0xff, want 0x7f (UIP is read-only)", got)
	}
}

func TestIndexPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		index byte
		want  byte
	}{
		{name: "D with NMI disabled", index: nmiDisabled | regD, want: dVRT},
		{name: "base memory with NMI disabled", index: nmiDisabled | regBaseLo, want: 0x80},
		{name: "last byte", index: 0xff, want: 0x5a},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newAt(time.Unix(0, 0))
			wr(c, 0x7f, 0x5a)
			if got := rd(c, tc.index); got != tc.want {
				t.Errorf("register %#x = %#x, want %#x", tc.index, got, tc.want)
			}
			var b [1]byte
			c.Read(portIndex, b[:])
			if b[0] != noAccess {
				t.Errorf("index port read %#x, want 0xff", b[0])
			}
		})
	}
}

func TestCMOSMemory(t *testing.T) {
	t.Parallel()
	c, _ := newAt(time.Unix(0, 0))
	for i := 0x0e; i < ramSize; i++ {
		if i == regCentury {
			continue
		}
		wr(c, byte(i), byte(i)^0xa5)
	}
	for i := 0x0e; i < ramSize; i++ {
		if i == regCentury {
			continue
		}
		if got := rd(c, byte(i)); got != byte(i)^0xa5 {
			t.Errorf("CMOS byte %#x = %#x, want %#x", i, got, byte(i)^0xa5)
		}
	}
}

func TestWideAccess(t *testing.T) {
	t.Parallel()
	c, _ := newAt(time.Unix(0, 0))
	c.Write(portIndex, []byte{0x40, 0x77}) // outw(0x70, 0x40 | 0x77<<8)
	var w [2]byte
	c.Read(portIndex, w[:]) // inw(0x70): index port, then data
	if w != [2]byte{noAccess, 0x77} {
		t.Errorf("inw = % x, want ff 77", w)
	}
}

func TestEveryAccessIsSafe(t *testing.T) {
	t.Parallel()
	c, clk := newAt(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, off := range []uint64{0, 1, 2, 7, 1 << 33, ^uint64(0) - 1, ^uint64(0)} {
		for _, width := range []int{0, 1, 2, 4, 8} {
			for idx := range 256 {
				b := make([]byte, width)
				for i := range b {
					b[i] = byte(idx + i)
				}
				c.Write(off, b)
				c.Read(off, b)
				for i := range b {
					if off > portData || uint64(i) != portData-off {
						if b[i] != noAccess {
							t.Fatalf("read at offset %#x width %d byte %d = %#x, want 0xff", off, width, i, b[i])
						}
					}
				}
				clk.Advance(time.Duration(idx) * time.Hour)
			}
		}
	}
	if got := rd(c, regD); got != dVRT {
		t.Errorf("D = %#x", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := New(nil, 64*mib, 0) // the real clock
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [2]byte
			for i := range 2000 {
				c.Write(portIndex, []byte{byte(i + g), byte(i)})
				c.Read(portIndex, b[:])
			}
		}()
	}
	wg.Wait()
}

// CMOS satisfies bus.Device (mirrored here, as in the other device packages).
var _ interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
} = (*CMOS)(nil)
