// Package ratelimit is glue's I/O rate limiter: token buckets with a
// sustained rate, a small capacity and a one-time burst, the model of
// Firecracker's rate limiters, for the bytes and the operations a guest
// pushes through a device.
//
// A Limiter holds up to two buckets, one counting bytes and one counting
// operations (requests, frames). A request is let through when both
// buckets hold its cost, or a whole bucket's worth when the cost is larger
// than the bucket (a request bigger than the capacity is not refused
// forever: it takes the bucket into debt, which later requests wait out).
// Tokens come back at Bucket.Rate per second up to Bucket.Size; a bucket
// starts full, and its OneTimeBurst is spent first and never refilled.
//
// Devices use it in one of two ways:
//
//   - Take, for work that must be deferred and not lost (virtio-blk
//     requests, virtio-net frames): when it returns a wait, the device
//     keeps the request, stops taking more from its queue and arms a
//     Timer; when the timer fires, the VMM notifies the queue again, as if
//     the driver had kicked it. No goroutine waits and nothing polls.
//   - Allow, for output that may be dropped (the consoles): it grants
//     what the bucket holds now and the caller drops and counts the rest,
//     so a vCPU writing to a console never waits.
//
// Time comes from a Clock, so that tests drive it by hand
// (ratelimittest.Clock) and nothing in a test depends on how fast the
// machine is.
//
// glue has its own bucket rather than golang.org/x/time/rate: that
// package's Limiter has one bucket without a one-time burst, refuses a
// request larger than its burst outright, and cannot check two buckets
// together (bytes and operations) without a reservation per bucket to
// cancel; this package's bucket is about a hundred lines of integer
// arithmetic.
package ratelimit
