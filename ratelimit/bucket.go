package ratelimit

import (
	"math"
	"math/bits"
	"time"
)

// Bucket is one token bucket's settings. A zero Rate leaves the bucket
// out: what it would count is not limited.
type Bucket struct {
	// Rate is the sustained rate, in tokens (bytes or operations) per
	// second.
	Rate uint64
	// Size is the capacity, how much may go at once after a pause; 0
	// means a tenth of Rate (100 ms of it, at least 1), as QEMU's
	// throttling does, so a limit holds over short stretches too.
	Size uint64
	// OneTimeBurst is spent before the bucket and never comes back: a
	// guest may boot or load fast, then runs at Rate.
	OneTimeBurst uint64
}

// MaxTokens bounds Rate, Size and OneTimeBurst, so that the arithmetic
// below stays far from overflow.
const MaxTokens = 1 << 53

// bucket is a Bucket in use.
type bucket struct {
	rate, size uint64
	tokens     int64  // below 0 after a request larger than size: debt
	oneTime    uint64 // what is left of OneTimeBurst
	rem        uint64 // refill progress past the last whole token, in token-nanoseconds
	last       time.Time
}

func newBucket(b Bucket, now time.Time) bucket {
	size := b.Size
	if size == 0 {
		size = max(b.Rate/10, 1)
	}
	return bucket{rate: b.Rate, size: size, tokens: int64(size), oneTime: b.OneTimeBurst, last: now}
}

// refill adds the tokens earned since the last call, up to size. A clock
// going backwards earns nothing.
func (b *bucket) refill(now time.Time) {
	elapsed := now.Sub(b.last)
	if elapsed <= 0 {
		return
	}
	b.last = now
	if b.tokens >= int64(b.size) {
		b.rem = 0
		return
	}
	missing := uint64(int64(b.size) - b.tokens)
	hi, lo := bits.Mul64(uint64(elapsed), b.rate)
	lo, carry := bits.Add64(lo, b.rem, 0)
	hi += carry
	if hi >= 1e9 { // more than 2^64 tokens earned: full
		b.tokens, b.rem = int64(b.size), 0
		return
	}
	earned, rem := bits.Div64(hi, lo, 1e9)
	if earned >= missing {
		b.tokens, b.rem = int64(b.size), 0
		return
	}
	b.tokens += int64(earned)
	b.rem = rem
}

// wait returns how long until the bucket holds cost, or all of its size
// when cost is larger; 0 when it does now.
func (b *bucket) wait(cost uint64) time.Duration {
	need := int64(min(cost, b.size))
	have := b.tokens + int64(b.oneTime)
	if have >= need {
		return 0
	}
	ns := math.Ceil(float64(need-have) * 1e9 / float64(b.rate))
	return time.Duration(min(max(ns, 1), math.MaxInt64/2))
}

// take spends cost, the one-time burst first; the bucket may go into debt.
func (b *bucket) take(cost uint64) {
	fromBurst := min(cost, b.oneTime)
	b.oneTime -= fromBurst
	b.tokens -= int64(cost - fromBurst)
}

// available returns what may be spent now without debt.
func (b *bucket) available() uint64 {
	return uint64(max(b.tokens, 0)) + b.oneTime
}
