// Package tap opens a Linux TAP interface for a virtio-net device: a file
// descriptor through which Ethernet frames leave and enter the host's
// network stack.
//
// Each frame carries a 12-byte virtio-net header in front
// (struct virtio_net_hdr_v1, the header of VIRTIO_F_VERSION_1 devices), so a
// device can pass the guest's header to the kernel and back without
// rewriting it. No offloads are enabled unless asked for (Options.Offloads,
// SetOffload), so by default frames are plain: no partial checksums, no
// segmentation.
//
// The fd is non-blocking: ReadFrame and WriteFrame return ErrWouldBlock
// (which matches EAGAIN) instead of waiting, and the device learns about
// readiness from glue's event loop (Fd). ReadFrame and WriteFrame may run at
// the same time in different goroutines; Close must not race with either.
//
// glue does not configure the interface: it sets no address, route or link
// state, and never brings the link up. That is the user's job, before or
// after glue starts, for example:
//
//	ip tuntap add dev tap0 mode tap user $USER   # once, as root
//	ip addr add 192.0.2.1/24 dev tap0
//	ip link set tap0 up
//
// Opening a tap that does not exist creates it, which needs CAP_NET_ADMIN;
// such a tap disappears when glue closes it. A tap created beforehand with
// "ip tuntap add ... user NAME" can be opened by that user without
// privileges.
package tap
