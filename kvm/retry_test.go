package kvm

import (
	"testing"

	"golang.org/x/sys/unix"
)

// An ioctl the kernel interrupted before it did anything (EINTR) is made
// again; success and any other error come back at once. CI's nested tier
// saw KVM_CREATE_VM fail with "interrupted system call" before this.
func TestRetryInterrupted(t *testing.T) {
	calls := 0
	r, err := retryInterrupted(func() (uintptr, unix.Errno) {
		if calls++; calls < 3 {
			return 0, unix.EINTR
		}
		return 7, 0
	})
	if r != 7 || err != nil || calls != 3 {
		t.Fatalf("after two EINTRs: %d, %v after %d calls; want 7, nil after 3", r, err, calls)
	}
	calls = 0
	if _, err := retryInterrupted(func() (uintptr, unix.Errno) { calls++; return 0, unix.EBADF }); err != unix.EBADF || calls != 1 {
		t.Fatalf("EBADF: %v after %d calls; want EBADF after 1", err, calls)
	}
}
