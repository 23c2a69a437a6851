package virtio

import "errors"

// Queue geometry errors, returned (wrapped) by NewQueue.
var (
	ErrQueueSize      = errors.New("virtio: queue size is not a power of two within the maximum")
	ErrRingAlignment  = errors.New("virtio: ring misaligned")
	ErrRingOutsideRAM = errors.New("virtio: ring not inside one RAM region")
)

// Errors that break a queue: the driver's ring state is inconsistent, so
// the device stops the queue and asks for a reset (DEVICE_NEEDS_RESET).
var (
	ErrAvailIndex       = errors.New("virtio: available index moved by more than the queue size")
	ErrHeadOutOfRange   = errors.New("virtio: chain head index out of range")
	ErrHeadInFlight     = errors.New("virtio: chain head made available while in flight")
	ErrRingInaccessible = errors.New("virtio: ring inaccessible")
)

// Errors that make one descriptor chain malformed: it is returned to the
// driver unprocessed (used length 0), counted, and the queue goes on.
var (
	ErrChainTooLong   = errors.New("virtio: descriptor chain longer than the queue (loop?)")
	ErrNextOutOfRange = errors.New("virtio: descriptor next index out of range")
	ErrDescOutsideRAM = errors.New("virtio: descriptor buffer not inside one RAM region")
	ErrChainTooBig    = errors.New("virtio: descriptor chain total length over the limit")
	ErrDirection      = errors.New("virtio: device-readable descriptor after a device-writable one")
	ErrIndirect       = errors.New("virtio: invalid indirect descriptor")
)

// ErrNotInFlight is returned by AddUsed for a head the device did not pop
// or has already returned: a device bug, not a guest one.
var ErrNotInFlight = errors.New("virtio: used head not in flight")

// ErrChainFull is returned by Writer when the chain's writable part is full.
var ErrChainFull = errors.New("virtio: descriptor chain has no more writable space")
