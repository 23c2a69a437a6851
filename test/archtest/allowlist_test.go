// Package archtest enforces the module's import graph. It parses every Go
// file of the module (all build variants at once, since it ignores build
// tags), needs no build and runs in milliseconds.
//
// The graph is an allow-list, as in the Go standard library's
// go/build/deps_test.go: every package of the module has one line in
// allowList naming exactly the module and third-party packages it imports,
// so a new edge is added to the table on purpose, in review, or the test
// fails. The design rules (design_test.go) then check the table itself, so
// an edge they forbid cannot be allowed by adding it.
package archtest

// rule is one package's line in the allow-list. Module packages are written
// as their directory ("virtio/blk"), other packages by import path
// ("golang.org/x/sys/unix"). The standard library needs no entry: every
// package may use it, except "unsafe" outside *_unsafe.go files, "C"
// (glue is built with CGO_ENABLED=0) and "testing" outside test helpers.
type rule struct {
	pkg string // directory relative to the module root
	// helper marks a test helper: a package whose non-test files import
	// "testing", so that only tests and other helpers may import it.
	helper  bool
	imports string // what its non-test files may import, space-separated
	tests   string // what its _test.go files may import on top of imports and pkg itself
}

// allowList is the import graph, bottom up. A new package is one new line;
// the test's message for a package without one prints the line to add.
var allowList = []rule{
	// Leaves: the standard library and golang.org/x/sys only.
	{pkg: "bus"},
	{pkg: "guestmem", imports: "golang.org/x/sys/unix"},
	{pkg: "kvm", imports: "golang.org/x/sys/unix", tests: "kvm/kvmtest"},
	{pkg: "serial"},
	{pkg: "pci", tests: "test/hosttest"},
	{pkg: "acpi/aml", tests: "acpi/internal/iasltest"},
	{pkg: "acpi", imports: "acpi/aml", tests: "acpi/internal/iasltest test/hosttest"},
	{pkg: "i8042"},
	{pkg: "tap", imports: "golang.org/x/sys/unix", tests: "eventloop test/hosttest"},

	// Device models, host plumbing, boot.
	{pkg: "rtc"},
	{pkg: "console", imports: "golang.org/x/sys/unix golang.org/x/term"},
	{pkg: "eventloop", imports: "golang.org/x/sys/unix"},
	{pkg: "ratelimit", tests: "ratelimit/ratelimittest"},
	{pkg: "internal/unixsock", imports: "golang.org/x/sys/unix"},
	{pkg: "internal/hostrandom", imports: "golang.org/x/sys/unix"},
	{pkg: "internal/sha256"},
	{pkg: "control", imports: "internal/hostrandom internal/unixsock golang.org/x/sys/unix", tests: "test/hosttest test/procstat"},
	{pkg: "sandbox", imports: "golang.org/x/net/bpf golang.org/x/sys/unix"},
	{pkg: "jail", imports: "golang.org/x/sys/unix"},
	{pkg: "sandbox/internal/probe", imports: "sandbox golang.org/x/sys/unix"},
	{pkg: "guest", tests: "acpi test/hosttest"},
	{pkg: "loader/internal/bcj", tests: "test/hosttest"},
	{pkg: "loader/internal/lzma2", tests: "loader/loadertest test/hosttest github.com/ulikunitz/xz/lzma"},
	{pkg: "loader/internal/zstd", tests: "loader/loadertest test/hosttest github.com/klauspost/compress/zstd"},
	{pkg: "loader", imports: "guestmem internal/sha256 loader/internal/bcj loader/internal/lzma2 loader/internal/zstd", tests: "loader/loadertest test/hosttest golang.org/x/sys/unix"},
	{pkg: "x86", imports: "guestmem kvm loader", tests: "kvm/kvmtest test/hosttest"},
	{pkg: "vcpu", imports: "bus guestmem kvm golang.org/x/arch/x86/x86asm golang.org/x/sys/unix", tests: "kvm/kvmtest"},

	// Virtio: the core, its transports, one package per device.
	{pkg: "virtio", imports: "guestmem", tests: "virtio/virtiotest"},
	{pkg: "virtio/transport/mmio", imports: "guestmem virtio", tests: "bus virtio/rng virtio/virtiotest"},
	{pkg: "virtio/transport/pci", imports: "guestmem pci virtio", tests: "test/hosttest virtio/rng virtio/virtiotest"},
	{pkg: "virtio/blk", imports: "guestmem ratelimit virtio golang.org/x/sys/unix", tests: "ratelimit/ratelimittest virtio/transport/mmio virtio/virtiotest"},
	{pkg: "virtio/rng", imports: "guestmem virtio", tests: "virtio/transport/mmio virtio/virtiotest"},
	{pkg: "virtio/balloon", imports: "guestmem virtio", tests: "virtio/transport/mmio virtio/virtiotest"},
	{pkg: "virtio/vsock", imports: "guestmem virtio", tests: "virtio/transport/mmio virtio/virtiotest"},
	{pkg: "virtio/vconsole", imports: "guestmem virtio", tests: "virtio/transport/mmio virtio/virtiotest"},
	{pkg: "virtio/vnet", imports: "guestmem internal/sha256 ratelimit virtio", tests: "ratelimit/ratelimittest tap virtio/transport/mmio virtio/virtiotest"},

	// Test helpers.
	{pkg: "test/hosttest", helper: true},
	{pkg: "test/procstat"},
	{pkg: "acpi/internal/iasltest", helper: true, imports: "test/hosttest"},
	{pkg: "kvm/kvmtest", helper: true, imports: "guestmem kvm test/hosttest golang.org/x/sys/unix"},
	{pkg: "ratelimit/ratelimittest", imports: "ratelimit"},
	{pkg: "loader/loadertest", helper: true, imports: "loader/internal/bcj github.com/klauspost/compress/zstd github.com/pierrec/lz4/v4 github.com/ulikunitz/xz/lzma"},
	{pkg: "virtio/virtiotest", helper: true, imports: "bus guestmem virtio"},

	// The one place that wires everything, and the binary.
	{pkg: "vmm", imports: "acpi bus console control eventloop guest guestmem i8042 internal/hostrandom kvm loader pci ratelimit rtc sandbox serial tap vcpu virtio virtio/balloon virtio/blk virtio/rng virtio/transport/mmio virtio/transport/pci virtio/vconsole virtio/vnet virtio/vsock x86 golang.org/x/sys/unix", tests: "kvm/kvmtest ratelimit/ratelimittest test/hosttest"},
	{pkg: "cmd/glue", imports: "console control jail ratelimit vmm golang.org/x/sys/unix"},

	// Whole-program tests and what they build.
	{pkg: "test/initramfs", imports: "github.com/klauspost/compress/zstd github.com/ulikunitz/xz", tests: "test/hosttest"},
	{pkg: "test/initramfs/init", imports: "golang.org/x/sys/unix"},
	{pkg: "test/integration", tests: "control kvm kvm/kvmtest test/hosttest test/initramfs test/procstat test/scenario x86 golang.org/x/sys/unix"},
	{pkg: "test/scenario", imports: "control loader tap test/initramfs test/procstat golang.org/x/sys/unix", tests: "test/hosttest"},
	{pkg: "test/nested", imports: "test/initramfs test/nested/plan test/scenario", tests: "test/hosttest"},
	{pkg: "test/nested/plan", imports: "test/scenario"},
	{pkg: "test/machineinit"},
	{pkg: "test/nested/outerinit", imports: "test/machineinit test/nested/plan test/scenario"},
	{pkg: "test/emulated/job"},
	{pkg: "test/emulated/emuinit", imports: "test/emulated/job test/machineinit test/procstat", tests: "test/hosttest"},
	{pkg: "test/emulated", imports: "test/emulated/job test/initramfs test/nested", tests: "test/hosttest"},
	{pkg: "test/perf", tests: "control kvm/kvmtest loader loader/loadertest test/hosttest test/procstat golang.org/x/sys/unix"},
	{pkg: "test/perf/barego", imports: "golang.org/x/sys/unix"},
	{pkg: "test/archtest"},
	{pkg: "test/doctest", tests: "kvm/kvmtest test/hosttest"},
	{pkg: "test/testreport"},
}
