//go:build cgo

package vmm

// In a build with cgo (importing vmm links net's C resolver), the C library
// starts the process's threads: pthread_create makes system calls the
// filter does not allow (clone3, set_robust_list, rseq, with other clone
// flags than the Go runtime's), and Go cannot set no_new_privs on every
// thread of such a process (syscall.AllThreadsSyscall refuses), so it
// could not be confined at all.
const cgoLinked = true
