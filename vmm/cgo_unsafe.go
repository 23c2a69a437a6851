package vmm

import _ "unsafe" // for go:linkname

// cgoLinked is whether runtime/cgo is part of this program, which the
// "cgo" build tag does not tell: a CGO_ENABLED=1 build links it only if
// some package needs C (net's resolver, os/user, external linking). Where
// it is, the C library starts the process's threads: pthread_create makes
// system calls the filter does not allow (clone3, set_robust_list, rseq,
// with other clone flags than the Go runtime's), and Go cannot set
// no_new_privs on every thread of such a process
// (syscall.AllThreadsSyscall refuses), so it could not be confined at all.
//
// runtime/cgo sets the runtime's iscgo in its static data, so it holds
// before any code runs; the runtime keeps it open to go:linkname
// (go.dev/issue/67401).
//
//go:linkname cgoLinked runtime.iscgo
var cgoLinked bool
