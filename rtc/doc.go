// Package rtc models the PC's MC146818 real-time clock and its 128 bytes of
// CMOS memory, as firmware and Linux's early boot code read them.
//
// # Ports
//
// The device decodes two consecutive I/O ports: register it on the port-I/O
// bus at 0x70 with size 2. Offset 0 is the index port (write-only; bit 7,
// the NMI-disable bit of the PC, is masked off, so the index is always in
// range), offset 1 the data port, which reads or writes the indexed byte.
// A wider access is split into byte accesses at consecutive offsets, so the
// idiom outw(0x70, index | value<<8) works; bytes outside the two ports read
// as 0xff and are dropped on write. No access panics.
//
// # Time
//
// Registers 0x00-0x09 and the century byte 0x32 show the injected clock,
// in UTC, encoded per register B: BCD or binary (DM, bit 2) and 24- or
// 12-hour (bit 1, with bit 7 of the hours as PM). Register B powers on as
// 0x02: BCD, 24-hour. The day of the week runs from 1 (Sunday) to 7.
//
// Reading the seconds register samples the clock; the other time and date
// registers read from that sample while it is under a second old. A guest
// that reads the seconds first, as Linux does, therefore gets a consistent
// set even when a second boundary passes between its reads. The
// update-in-progress bit (register A bit 7) always reads 0, so no guest
// waits on it.
//
// The guest may set the clock. Writes to the time and date registers are
// kept as an offset, in whole seconds, from the injected clock: the clock
// keeps running from the time the guest wrote, and the host's clock is never
// touched. With register B's SET bit set, the registers stop following the
// clock and take writes as plain bytes; clearing SET applies them all at
// once (Linux's sequence). A write with SET clear applies at once. Values
// that do not form a valid date and time (bad BCD digits, month 13, 30
// February) are dropped; a write to the day of the week is ignored, since
// the day follows from the date. The offset lives as long as the device.
//
// # Status and interrupts
//
// Register A holds the divider and rate bits the guest writes (power-on
// 0x26); they do not change the clock. Register C reads as the update-ended
// flag (UF, set when the clock has moved to a new second since the last read
// of C and SET is clear) plus IRQF when UIE is enabled, and is cleared by the
// read. Alarm and periodic flags are never set and the device raises no
// interrupt: it has no timer. Register D reads 0x80: valid RAM and time.
//
// # Memory size
//
// New fills the bytes firmware and Linux's early code read to size memory:
//
//	0x15-0x16  base memory in KiB (640)
//	0x17-0x18  memory from 1 MiB, in KiB, capped at 0xffff (about 64 MiB)
//	0x30-0x31  the same
//	0x34-0x35  memory from 16 MiB to 4 GiB, in 64 KiB blocks, capped at 0xffff
//	0x5b-0x5d  memory above 4 GiB, in 64 KiB blocks, capped at 0xffffff
//
// all little-endian, and the standard checksum of bytes 0x10-0x2d at
// 0x2e (high) and 0x2f (low). All other CMOS bytes start at zero and store
// what the guest writes.
//
// # Concurrency
//
// A CMOS is safe for concurrent use; one mutex guards it. The clock is
// called with that mutex held and must not call back into the device.
package rtc
