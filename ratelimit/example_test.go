package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/ratelimit/ratelimittest"
)

// A disk limited to 1 MB/s and 100 requests/s, with a one-time burst of
// 1 MB: the device takes each request's cost and, when told to wait,
// keeps the request and arms its Wakeup instead of polling.
func Example() {
	clock := ratelimittest.New() // glue passes ratelimit.SystemClock{}
	l, err := ratelimit.New(ratelimit.Config{
		Bytes: ratelimit.Bucket{Rate: 1e6, OneTimeBurst: 1e6},
		Ops:   ratelimit.Bucket{Rate: 100},
		Clock: clock,
	})
	if err != nil {
		panic(err)
	}
	resume := ratelimit.NewWakeup(l.Clock(), func() { fmt.Println("queue notified again") })

	for i := 0; i < 3; i++ {
		if wait := l.Take(1, 512<<10); wait > 0 {
			fmt.Printf("request %d deferred for %v\n", i, wait)
			resume.Arm(wait)
			break
		}
		fmt.Printf("request %d served\n", i)
	}
	clock.Advance(time.Second)
	// Output:
	// request 0 served
	// request 1 served
	// request 2 deferred for 48.576ms
	// queue notified again
}
