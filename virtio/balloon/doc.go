// Package balloon is virtio-balloon (device ID 5, virtio 1.2 section 5.5):
// the host sets a target of guest pages (the configuration field
// num_pages), the driver gives that many pages up on the inflate queue and
// takes them back on the deflate queue, and reports how far it got in
// actual. Pages given up are discarded (guestmem.Memory.Discard), so the
// host really gets the memory back; a page the guest touches again is
// fresh and zeroed.
//
// Optional features, each offered when its Config field asks:
//
//   - VIRTIO_BALLOON_F_STATS_VQ: the driver keeps one buffer of
//     statistics (tag, value pairs) on the statistics queue; the device
//     holds it and returns it when it wants fresher numbers
//     (RequestStats), and the driver answers with a new buffer.
//   - VIRTIO_BALLOON_F_DEFLATE_ON_OOM: the driver may deflate on its own
//     when the guest runs out of memory, rather than fail allocations.
//   - VIRTIO_BALLOON_F_PAGE_REPORTING: the driver reports ranges of free
//     memory on the reporting queue; the device discards them and
//     returns the buffers.
//
// Queue numbers follow the negotiated features, as Linux numbers them:
// inflate 0, deflate 1, then the statistics queue if STATS_VQ was
// negotiated, then the reporting queue if PAGE_REPORTING was.
//
// The guest is hostile. Page frame numbers (32-bit, 4 KiB pages) are read
// from guest memory once, in bounded host chunks; a page outside RAM (in
// the MMIO gap, past the end) is counted and skipped, never touched; a
// page given up twice is discarded twice, which is harmless. Statistics
// buffers of any length are parsed up to MaxStatsBytes, whole entries
// only; unknown tags are counted and ignored. A chain's readable part is
// capped at MaxChainBytes by the queue itself. Every bad input is counted
// (Status) and logged at Warn once, then at Debug.
package balloon
