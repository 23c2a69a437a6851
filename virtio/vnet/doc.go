// Package vnet is virtio-net (device ID 1): one receive queue (0) and one
// transmit queue (1) between the guest and a Backend that moves Ethernet
// frames, normally a tap device opened with IFF_VNET_HDR and a 12-byte
// vnet header. (The package is not called net so that it does not shadow
// the standard library's.)
//
// # What the guest gets
//
// VIRTIO_NET_F_MAC (the address in configuration bytes 0-5) and
// VIRTIO_NET_F_STATUS (LINK_UP at bytes 6-7), nothing else: no checksum or
// segmentation offloads and no mergeable receive buffers, so every frame
// travels whole in one chain behind the 12-byte struct virtio_net_hdr of
// virtio 1.x, which on receive says only num_buffers = 1. Without
// MRG_RXBUF the driver must post receive buffers that hold a whole frame
// (1526 bytes at the default MTU; Linux and glue's guest post 1.5-2 KiB or
// more).
//
// # Transmit (queue 1)
//
// Notify(1) handles a bounded batch (at most the queue size) of chains,
// each one frame: its device-readable part is the header and the frame;
// it must have no device-writable part. A chain is malformed, dropped and
// counted (TxMalformed) when it has writable buffers, is shorter than the
// header plus an Ethernet header, longer than MaxFrameLen, or asks in its
// header for an offload that was not negotiated (flags or gso_type set).
// A good frame is copied into the device's one transmit buffer (the guest
// cannot make it allocate) and handed to the backend with an all-zero
// header, so the host kernel never sees guest-chosen offload fields. If
// the backend would block the frame is dropped and counted (TxDropped), as
// a congested NIC does: the device never waits for the backend to become
// writable, so neither a vCPU nor the event loop ever blocks on it. Every
// chain is completed with used length 0.
//
// # Receive (queue 0) and readiness
//
// HandleRx moves frames from the backend into the guest's receive buffers
// until the backend has none (it would block), the queue has no buffer, or
// the batch bound (the queue size) is reached. A frame is read first and
// then a buffer is taken, so a frame read while no buffer is available is
// kept in the device (one frame) until one is. Each delivered frame gets a
// header with num_buffers = 1 and the whole frame. A buffer too small for
// the frame is returned empty (used length 0) and the frame dropped
// (RxDropped); a chain with device-readable buffers is malformed, returned
// empty (RxMalformed) and the frame kept for the next buffer. Frames the
// backend hands over shorter than a header plus an Ethernet header, longer
// than MaxFrameLen, or needing offloads are dropped (RxDropped).
//
// The device tells the VMM whether it wants the backend's readiness with
// Config.SetRxInterest, only on a change. The state machine:
//
//   - interest starts on: the VMM watches the backend's fd for reading
//     before the guest runs and calls HandleRx whenever it is readable;
//   - HandleRx finds no receive buffer (or no active queue): interest off.
//     A level-triggered poller would otherwise call it again at once for
//     frames it cannot place; frames wait in the backend (the tap's queue,
//     which the kernel bounds);
//   - the guest adds receive buffers and notifies queue 0: Notify(0) turns
//     interest on and runs HandleRx's work itself, so a frame kept in the
//     device is delivered even if the backend has nothing more;
//   - the backend fails (an error other than would-block) 8 times in a
//     row: interest off, counted in RxErrors, until the next Notify(0).
//     A dead tap thus cannot spin the event loop, and one odd read cannot
//     stop reception;
//   - HandleRx and Notify(0) return true when they stopped at the batch
//     bound: the caller calls again after other work (the event loop
//     resubmits), which does not rely on the fd still being readable.
//
// So a full queue, an empty backend or a failing one never stalls the
// device for good: the next buffer the guest posts, or the next frame the
// backend gets while buffers are posted, resumes reception.
//
// # Wiring
//
// The VMM creates the device with New, places it behind a transport, adds
// the backend's fd to its event loop for reading with a handler that calls
// HandleRx (resubmitting while it returns true), and maps SetRxInterest to
// modifying that registration (readable events on or off). Queue
// notifications reach Notify through the transport as for every device.
//
// A *tap.Tap is a Backend as it is: its ErrWouldBlock wraps EAGAIN, and
// the device reads into a buffer larger than tap.MaxReadLen, so no frame is
// cut short.
//
// # Rate limiting
//
// Config.RxLimit and Config.TxLimit limit each direction; a frame costs one
// operation and its bytes less the vnet header. A frame over the limit is
// deferred, never dropped: a transmit chain is kept and the transmit queue
// left alone, a received frame stays in the device with interest in the
// backend off, until the direction's timer has the VMM notify its queue
// (Config.Wake). Kicks meanwhile are counted and do nothing; Reset cancels
// both timers.
//
// # Concurrency
//
// Receive state (the receive queue, the kept frame, the interest) is under
// one lock and transmit state under another, so the event loop receiving
// and a vCPU transmitting do not wait for each other; Activate and Reset
// take both (receive first). The backend's methods are called with one of
// these locks held, ReadFrame and WriteFrame possibly at the same time from
// different goroutines; they must not block. SetRxInterest is called with
// the receive lock held, from the goroutine that called HandleRx or
// Notify(0); it must not block or call back into the device (an epoll_ctl
// is fine).
package vnet
