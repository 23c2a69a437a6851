package acpi

import "encoding/binary"

// The system description table header (ACPI 6.5 §5.2.6), 36 bytes.
const (
	HeaderSize = 36

	offLength   = 4
	offRevision = 8
	offChecksum = 9
)

// The identification every table carries.
var (
	oemID      = [6]byte{'G', 'L', 'U', 'E', ' ', ' '}
	oemTableID = [8]byte{'G', 'L', 'U', 'E', 'V', 'M', ' ', ' '}
	creatorID  = [4]byte{'G', 'L', 'U', 'E'}
)

const (
	oemRevision     = 1
	creatorRevision = 1
)

// newTable returns a table of size bytes (at least the header) with its
// header filled in except the checksum; seal sets that once the body is
// written.
func newTable(signature string, revision byte, size int) []byte {
	t := make([]byte, size)
	copy(t[0:4], signature)
	binary.LittleEndian.PutUint32(t[offLength:], uint32(size))
	t[offRevision] = revision
	copy(t[10:16], oemID[:])
	copy(t[16:24], oemTableID[:])
	binary.LittleEndian.PutUint32(t[24:], oemRevision)
	copy(t[28:32], creatorID[:])
	binary.LittleEndian.PutUint32(t[32:], creatorRevision)
	return t
}

// seal sets the table's checksum byte so that all its bytes sum to zero.
func seal(t []byte) {
	t[offChecksum] = 0
	t[offChecksum] = -sum(t)
}

// sum is the byte sum ACPI checksums are defined over.
func sum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// gasAccessByte is a GAS's access size for byte accesses.
const gasAccessByte = 1

// putGAS writes a Generic Address Structure (ACPI 6.5 §5.2.3.2, 12 bytes) for a register of bitWidth bits accessed accessSize
// at a time.
func putGAS(b []byte, space Space, bitWidth, accessSize byte, addr uint64) {
	b[0] = byte(space)
	b[1] = bitWidth
	b[2] = 0 // bit offset
	b[3] = accessSize
	binary.LittleEndian.PutUint64(b[4:], addr)
}
