package kvm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// DefaultPath is the KVM device Open uses when given "".
const DefaultPath = "/dev/kvm"

// ErrUnavailable is wrapped by Open's error when the KVM device does not
// exist or cannot be opened by this user: the host cannot run VMs as it is,
// which tests treat as a reason to skip.
var ErrUnavailable = errors.New("KVM is not available")

// unavailableError is Open's error when the device cannot be opened: a
// message that tells the user what to do, matching ErrUnavailable and
// unwrapping to the errno.
type unavailableError struct {
	msg string
	err error
}

func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// requiredCaps are the capabilities every VM glue builds depends on. Open
// refuses a kernel that lacks one, naming it, rather than failing later in
// an ioctl whose error would not say why.
var requiredCaps = []struct {
	cap  int
	name string
}{
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_HLT, "KVM_CAP_HLT"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
}

// System is the /dev/kvm fd: the host's KVM, from which VMs are created.
type System struct {
	fd           int
	vcpuMmapSize int
}

// Open opens the KVM device at path ("" means DefaultPath), checks the API
// version and the capabilities glue requires.
func Open(path string) (*System, error) {
	if path == "" {
		path = DefaultPath
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, openError(path, err)
	}
	s := &System{fd: fd}
	if err := s.check(path); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

// openError turns a failed open of the KVM device into an error that says
// what to do about it.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return &unavailableError{
			msg: fmt.Sprintf("kvm: open %s: KVM is not available: %v (enable virtualization in the firmware, or nested virtualization if this is a VM, and load kvm_intel or kvm_amd)", path, err),
			err: err,
		}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return &unavailableError{
			msg: fmt.Sprintf("kvm: %s: permission denied: add your user to the 'kvm' group or run as root", path),
			err: err,
		}
	}
	return fmt.Errorf("kvm: open %s: %w", path, err)
}

// check verifies the API version and capabilities and caches the size of
// the vCPU run area.
func (s *System) check(path string) error {
	version, err := ioctl(s.fd, KVM_GET_API_VERSION, 0)
	if err != nil {
		return fmt.Errorf("kvm: %s: get API version: %w", path, err)
	}
	if version != KVM_API_VERSION {
		return fmt.Errorf("kvm: %s: API version %d, want %d", path, version, KVM_API_VERSION)
	}
	for _, c := range requiredCaps {
		if s.CheckExtension(c.cap) <= 0 {
			return fmt.Errorf("kvm: %s: the kernel lacks required capability %s (%d)", path, c.name, c.cap)
		}
	}
	size, err := ioctl(s.fd, KVM_GET_VCPU_MMAP_SIZE, 0)
	if err != nil {
		return fmt.Errorf("kvm: %s: get vcpu mmap size: %w", path, err)
	}
	if size < runSize {
		return fmt.Errorf("kvm: %s: vcpu mmap size %d is smaller than struct kvm_run (%d)", path, size, runSize)
	}
	s.vcpuMmapSize = size
	return nil
}

// CheckExtension reports a capability's value (KVM_CHECK_EXTENSION): 0 when
// unsupported, 1 or a capability-specific number when supported.
func (s *System) CheckExtension(cap int) int {
	n, err := ioctl(s.fd, KVM_CHECK_EXTENSION, uintptr(cap))
	if err != nil {
		return 0
	}
	return n
}

// VCPUMmapSize is the size of the area each vCPU fd maps (struct kvm_run and
// the pages that follow it), from KVM_GET_VCPU_MMAP_SIZE.
func (s *System) VCPUMmapSize() int { return s.vcpuMmapSize }

// MaxVCPUs is the most vCPUs a VM may have: KVM_CAP_MAX_VCPUS, else the
// recommended KVM_CAP_NR_VCPUS, else 4 (what KVM documents for kernels that
// report neither).
func (s *System) MaxVCPUs() int {
	if n := s.CheckExtension(KVM_CAP_MAX_VCPUS); n > 0 {
		return n
	}
	if n := s.CheckExtension(KVM_CAP_NR_VCPUS); n > 0 {
		return n
	}
	return 4
}

// maxCPUIDEntries bounds GetSupportedCPUID's retries. The kernel's own limit
// (KVM_MAX_CPUID_ENTRIES) is 256; this leaves room for it to grow.
const maxCPUIDEntries = 4096

// GetSupportedCPUID returns the CPUID leaves KVM can present to a guest
// (KVM_GET_SUPPORTED_CPUID), the starting point for a vCPU's CPUID table.
func (s *System) GetSupportedCPUID() ([]CPUIDEntry, error) {
	for n := 256; n <= maxCPUIDEntries; n *= 2 {
		buf := newFlexBuffer[cpuid2Header, CPUIDEntry](n)
		buf.Header.Nent = uint32(n)
		_, err := buf.ioctl(s.fd, KVM_GET_SUPPORTED_CPUID)
		if errors.Is(err, unix.E2BIG) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kvm: get supported cpuid: %w", err)
		}
		got := int(buf.Header.Nent)
		if got > n {
			return nil, fmt.Errorf("kvm: get supported cpuid: kernel reported %d entries in a buffer of %d", got, n)
		}
		return append([]CPUIDEntry(nil), buf.Entries[:got]...), nil
	}
	return nil, fmt.Errorf("kvm: get supported cpuid: more than %d entries", maxCPUIDEntries)
}

// CreateVM creates a VM (KVM_CREATE_VM). The VM keeps working after the
// System is closed.
func (s *System) CreateVM() (*VM, error) {
	fd, err := ioctl(s.fd, KVM_CREATE_VM, 0)
	if err != nil {
		return nil, fmt.Errorf("kvm: create vm: %w", err)
	}
	return &VM{fd: fd, vcpuMmapSize: s.vcpuMmapSize}, nil
}

// Close closes the /dev/kvm fd. It is safe to call more than once.
func (s *System) Close() error {
	return closeFD(&s.fd, "kvm: close system")
}

// closeFD closes *fd once and marks it closed.
func closeFD(fd *int, op string) error {
	if *fd < 0 {
		return nil
	}
	err := unix.Close(*fd)
	*fd = -1
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
