package loader

import (
	"errors"
	"fmt"
)

// Every way an image can be rejected has its own sentinel, so callers and
// tests can tell them apart with errors.Is; the error text carries the
// offending values ("setup_sects 200 (102912 bytes) exceeds the 8192-byte
// file").
var (
	ErrUnknownFormat = errors.New("not an ELF vmlinux or a bzImage")

	// ELF vmlinux and PVH.
	ErrELFHeader          = errors.New("malformed ELF header")
	ErrELFClass           = errors.New("not a 64-bit little-endian ELF")
	ErrELFMachine         = errors.New("ELF is not for x86-64")
	ErrELFType            = errors.New("ELF is not an executable (ET_EXEC)")
	ErrProgramHeaders     = errors.New("malformed ELF program header table")
	ErrSectionHeaders     = errors.New("malformed ELF section header table")
	ErrSegmentFileRange   = errors.New("ELF segment data lies outside the file")
	ErrSegmentSize        = errors.New("ELF segment file size exceeds its memory size")
	ErrAddressOverflow    = errors.New("address range overflows 64 bits")
	ErrBelowMinAddr       = errors.New("kernel would load below the minimum address")
	ErrOutsideRAM         = errors.New("kernel does not fit in guest RAM")
	ErrSegmentOverlap     = errors.New("ELF segments overlap")
	ErrNoLoadableSegments = errors.New("ELF has no loadable segment")
	ErrBadEntry           = errors.New("entry point outside the loaded image")
	ErrMalformedNote      = errors.New("malformed ELF note")
	ErrNoPVHEntry         = errors.New("image has no PVH entry point")

	// bzImage.
	ErrBzImageHeader          = errors.New("malformed bzImage setup header")
	ErrBzImageVersion         = errors.New("bzImage boot protocol version too old")
	ErrNo64BitEntry           = errors.New("bzImage has no 64-bit entry point")
	ErrSetupSize              = errors.New("bzImage setup or kernel size exceeds the file")
	ErrPayloadRange           = errors.New("bzImage payload outside the kernel")
	ErrUnsupportedCompression = errors.New("unsupported payload compression")
	ErrCorruptPayload         = errors.New("corrupt compressed payload")
	ErrPayloadTooLarge        = errors.New("decompressed payload too large")

	// Files, initrd, command line.
	ErrNotRegularFile = errors.New("not a regular file")
	ErrFileTooLarge   = errors.New("file too large")
	// ErrFileLargerThanRAM also matches ErrFileTooLarge.
	ErrFileLargerThanRAM = errors.New("file larger than guest RAM")
	ErrInitrdEmpty       = errors.New("initrd is empty")
	ErrInitrdDoesNotFit  = errors.New("initrd does not fit in guest RAM")
	ErrCmdlineInvalid    = errors.New("invalid kernel command line parameter")
	ErrCmdlineTooLong    = errors.New("kernel command line too long")
)

// loadError is an error with a precise message that matches one of the
// sentinels above under errors.Is.
type loadError struct {
	kind error
	msg  string
}

func (e *loadError) Error() string { return e.msg }
func (e *loadError) Unwrap() error { return e.kind }

// errorf returns an error reading like format that matches kind.
func errorf(kind error, format string, args ...any) error {
	return &loadError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
