// Package vsock is virtio-vsock (device ID 19, virtio 1.2 section 5.10)
// with stream sockets: rx (queue 0) carries packets to the guest, tx
// (queue 1) the guest's packets, the event queue (2) the transport-reset
// event. The configuration space is guest_cid, a read-only u64. No feature
// is offered: stream sockets are implied.
//
// # Host side
//
// The device opens nothing itself. A Backend dials the host service of a
// port the guest connects to, and the VMM hands it host streams a host
// program opened with Connect; each is a non-blocking HostConn. The VMM
// calls HostReady when a stream the device asked about (WantRead,
// WantWrite) can be read or written.
//
// # Flow control and limits
//
// Each direction is bounded by the receiver's credit (buf_alloc minus
// what was sent and not yet forwarded, 5.10.6.3). Glue advertises
// BufAlloc bytes per connection and keeps at most that much of the guest's
// data for a host peer that does not read; a guest that sends more is
// reset (RST) and counted. Glue reads a host stream only while the guest
// has credit, so a guest that stops reading stops the host's writer
// rather than filling glue's memory. Packets carry at most MaxPayload
// bytes; at most MaxConns connections are open; at most 2*QueueSize RSTs
// wait for receive buffers.
//
// # Hostile guests
//
// Packets from another CID than the guest's, or to another than the host,
// are dropped; unknown types or operations, payload lengths over
// MaxPayload or beyond the chain, data after SHUTDOWN(SEND), and packets
// for connections that do not exist get an RST (except an RST). Each is
// counted in Stats; the first is logged at Warn, later ones at Debug.
// Receive queues are served in turn, one packet per connection, so one
// busy connection cannot starve the others.
//
// # Concurrency
//
// Notify, HostReady, Connect, TransportReset, Activate and Reset may run
// on different goroutines; one lock serializes them, and HostConn methods
// are called with it held. Stats may be called from any goroutine.
package vsock
