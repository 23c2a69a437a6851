// Package blk is virtio-blk (device ID 2): a disk for the guest, backed by
// a raw image file or a block device on the host.
//
// Open opens and locks an image (see Open for the locking rules: one
// read-write user, or any number of read-only ones); New wraps it, or any
// other Backend, in a virtio.Device for a transport:
//
//	disk, err := blk.Open("disk.img", blk.Options{})
//	dev := blk.New(disk, log)
//	t, err := mmio.New(dev, mem, irq, log)
//	...                 // after the VM has stopped (or the device was reset):
//	disk.Close()
//
// Images are raw: glue has no image formats and never looks at the
// content, so an image cannot redirect the host to other files. The
// capacity is the image size in 512-byte sectors, rounded down.
//
// # The device
//
// One request queue of QueueSize entries. Offered features: FLUSH,
// SEG_MAX (SegMax = QueueSize-2), BLK_SIZE (512) and, for a read-only
// disk, RO. SIZE_MAX is not offered: segments of any size cost the same.
//
// A request is a 16-byte header (type, reserved, sector) in device-readable
// buffers, data, and a status byte: the last device-writable byte of the
// chain. IN reads sectors into device-writable data, OUT writes sectors from
// device-readable data, FLUSH makes completed writes durable, GET_ID
// returns the IDBytes-byte serial; any other type gets UNSUPP. The header
// is copied out of guest memory once and checked there. IOERR answers a
// header shorter than 16 bytes, data the wrong way round (readable data
// for IN or GET_ID, writable data before the status for OUT), a data length
// that is not a whole number of sectors, sectors past the capacity
// (checked without overflow, so a sector near 2^64 cannot wrap), a write to
// a read-only disk (which never reaches the backend), and a backend error.
// A chain without a writable last byte cannot be answered and returns with
// length 0. Every request is counted in Stats, and processing goes on; the
// guest never makes the device panic.
//
// The used length is the data written to the guest (IN, GET_ID) plus the
// status byte.
//
// # Host memory
//
// Data moves between guest memory and the backend without a host buffer:
// IN preads into the guest's buffers (virtio.Writer.ReadFrom over an
// io.SectionReader), OUT pwrites from them (virtio.Reader.WriteTo over an
// io.OffsetWriter). A request costs the same few small allocations
// whatever lengths the guest declares; a 1 GiB buffer is 1 GiB of I/O,
// never 1 GiB of host memory. The work one notification does is bounded by
// the core: at most QueueSize requests, each at most 4 GiB.
//
// # Durability
//
// glue keeps no write cache of its own. OUT goes to the image with pwrite,
// into the host's page cache, before its status is written; FLUSH calls
// fdatasync and writes its status only after it returned. So:
//
//   - data the guest wrote survives glue being killed (kill -9 included):
//     it is in the kernel's page cache already;
//   - data the guest flushed (a completed FLUSH) also survives a host crash
//     or power loss;
//   - data written but not flushed may be lost in a host crash, as on a real
//     disk with a volatile write cache.
//
// A driver that does not negotiate FLUSH cannot flush, so the device then
// fdatasyncs after every write, before its status (writethrough).
//
// # Rate limiting
//
// With SetLimiter, each request costs one operation and its data bytes. A
// request over the limit is deferred, never failed: the device keeps it,
// takes nothing more from the ring, and its timer has the VMM notify the
// queue when the limiter will let it go; kicks meanwhile are counted
// (Stats.ThrottledKicks) and do nothing. Reset cancels the timer.
//
// # Concurrency
//
// Notify, Activate and Reset serialize on the device's lock; the backend I/O
// runs under it, on the goroutine that delivered the notification (a vCPU
// or the event loop). Reset waits for the request in progress, so its
// status is written before Reset returns. The device starts no goroutines
// (a limiter's timer runs on its clock's, and only calls the wake function).
// Stats may be read from any goroutine.
package blk
