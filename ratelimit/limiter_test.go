package ratelimit_test

import (
	"testing"
	"time"

	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/ratelimit/ratelimittest"
)

func newLimiter(t *testing.T, clock *ratelimittest.Clock, bytes, ops ratelimit.Bucket) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Config{Bytes: bytes, Ops: ops, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one call on a limiter: advance the clock, then Take.
type step struct {
	advance    time.Duration
	ops, bytes uint64
	wait       time.Duration // what Take must return
}

func TestTake(t *testing.T) {
	t.Parallel()
	kb := ratelimit.Bucket{Rate: 1000} // size 100 by default
	for _, tc := range []struct {
		name       string
		bytes, ops ratelimit.Bucket
		steps      []step
	}{
		{"starts full, then waits for what is missing", kb, ratelimit.Bucket{}, []step{
			{bytes: 100},
			{bytes: 50, wait: 50 * time.Millisecond},
			{advance: 49 * time.Millisecond, bytes: 50, wait: time.Millisecond},
			{advance: time.Millisecond, bytes: 50},
		}},
		{"refills only up to its size", kb, ratelimit.Bucket{}, []step{
			{advance: time.Hour, bytes: 100},
			{bytes: 1, wait: time.Millisecond},
		}},
		{"one-time burst first, never refilled", ratelimit.Bucket{Rate: 1000, OneTimeBurst: 500}, ratelimit.Bucket{}, []step{
			{bytes: 600},
			{bytes: 1, wait: time.Millisecond},
			{advance: time.Hour, bytes: 100},
			{bytes: 1, wait: time.Millisecond},
		}},
		{"a request larger than the bucket goes when full, then is paid back", kb, ratelimit.Bucket{}, []step{
			{bytes: 1000},
			{bytes: 100, wait: time.Second}, // 900 of debt + 100
			{advance: time.Second, bytes: 100},
		}},
		{"operations bucket", ratelimit.Bucket{}, ratelimit.Bucket{Rate: 10, Size: 2}, []step{
			{ops: 1, bytes: 1 << 30},
			{ops: 1, bytes: 1 << 30},
			{ops: 1, wait: 100 * time.Millisecond},
			{advance: 100 * time.Millisecond, ops: 1},
		}},
		{"a wait spends nothing from either bucket", kb, ratelimit.Bucket{Rate: 10, Size: 1}, []step{
			{ops: 1, bytes: 10},
			{ops: 1, bytes: 10, wait: 100 * time.Millisecond},    // ops empty; bytes must keep its 90
			{advance: 100 * time.Millisecond, ops: 1, bytes: 90}, // bytes refilled to 100
			{bytes: 11, wait: time.Millisecond},
		}},
		{"a clock going back earns nothing", kb, ratelimit.Bucket{}, []step{
			{bytes: 100},
			{advance: -time.Second, bytes: 1, wait: time.Millisecond},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := ratelimittest.New()
			l := newLimiter(t, clock, tc.bytes, tc.ops)
			for i, s := range tc.steps {
				clock.Advance(s.advance)
				if got := l.Take(s.ops, s.bytes); got != s.wait {
					t.Fatalf("step %d: Take(%d, %d) = %v, want %v", i, s.ops, s.bytes, got, s.wait)
				}
			}
		})
	}
}

// TestTakeRate checks the long-run count: a device taking 4 KiB requests
// as fast as the limiter lets it, over 100 simulated seconds, moves the
// bucket plus the burst plus rate × time, to the byte.
func TestTakeRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		b    ratelimit.Bucket
	}{
		{"1 MB/s", ratelimit.Bucket{Rate: 1e6}},
		{"3 KiB/s, requests larger than the bucket", ratelimit.Bucket{Rate: 3 << 10}},
		{"with a burst and a large bucket", ratelimit.Bucket{Rate: 12345, Size: 1 << 20, OneTimeBurst: 5 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := ratelimittest.New()
			l := newLimiter(t, clock, tc.b, ratelimit.Bucket{})
			const req, span = 4096, 100 * time.Second
			var moved uint64
			for elapsed := time.Duration(0); ; {
				w := l.Take(1, req)
				if w == 0 {
					moved += req
					continue
				}
				if elapsed+w > span {
					break
				}
				clock.Advance(w)
				elapsed += w
			}
			size := tc.b.Size
			if size == 0 {
				size = tc.b.Rate / 10
			}
			limit := tc.b.OneTimeBurst + size + tc.b.Rate*uint64(span/time.Second)
			// At most one request over: a full bucket lets a request
			// larger than what is left through, into debt.
			if moved > limit+req || moved+req < limit-size {
				t.Errorf("moved %d bytes in %v; want burst + size + rate × time = %d (± one request, - size)", moved, span, limit)
			}
		})
	}
}

func TestAllow(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.New()
	l := newLimiter(t, clock, ratelimit.Bucket{Rate: 1000, OneTimeBurst: 50}, ratelimit.Bucket{})
	for i, s := range []struct {
		advance time.Duration
		n, want uint64
	}{
		{n: 100, want: 100},
		{n: 100, want: 50}, // burst and bucket: 150 in all
		{n: 10, want: 0},   // empty: dropped, not owed
		{advance: 5 * time.Millisecond, n: 10, want: 5},
		{advance: time.Hour, n: 1000, want: 100}, // the burst does not come back
	} {
		clock.Advance(s.advance)
		if got := l.Allow(s.n); got != s.want {
			t.Fatalf("step %d: Allow(%d) = %d, want %d", i, s.n, got, s.want)
		}
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(ratelimit.Config{})
	if err != nil || l != nil {
		t.Fatalf("New(zero) = %v, %v; want nil, nil", l, err)
	}
	if w := l.Take(1, 1<<40); w != 0 {
		t.Errorf("nil Take = %v", w)
	}
	if n := l.Allow(1 << 40); n != 1<<40 {
		t.Errorf("nil Allow = %d", n)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, cfg := range []ratelimit.Config{
		{Bytes: ratelimit.Bucket{Rate: 1, Size: ratelimit.MaxTokens + 1}},
		{Ops: ratelimit.Bucket{Rate: 1, OneTimeBurst: ratelimit.MaxTokens + 1}},
		{Bytes: ratelimit.Bucket{Rate: ratelimit.MaxTokens + 1}},
	} {
		if _, err := ratelimit.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestWakeup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cancel bool
		wakes  int
	}{
		{"fires once however often armed", false, 1},
		{"cancelled does not fire", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := ratelimittest.New()
			wakes := 0
			w := ratelimit.NewWakeup(clock, func() { wakes++ })
			w.Arm(time.Second)
			w.Arm(time.Millisecond) // armed already: ignored
			if !w.Armed() || clock.Pending() != 1 {
				t.Fatalf("armed %v with %d timers; want one", w.Armed(), clock.Pending())
			}
			if tc.cancel {
				w.Cancel()
			}
			clock.Advance(time.Hour)
			if wakes != tc.wakes || w.Armed() || clock.Pending() != 0 {
				t.Errorf("%d wakes, armed %v, %d timers; want %d, false, 0", wakes, w.Armed(), clock.Pending(), tc.wakes)
			}
		})
	}
}
