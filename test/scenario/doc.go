// Package scenario is the table of tier-4 scenarios (docs/testing.md): a
// glue VM that boots Debian's kernel to the test init of test/initramfs,
// one entry path, CPU count, memory size and way of ending at a time, and
// what the test expects of it.
//
// One table, two ways to host it: the hardware-KVM tests in
// test/integration run each scenario directly where /dev/kvm is hardware
// KVM, and test/nested runs the same scenarios inside an emulated SVM
// machine, where its outer init calls Run and the host calls Verify on
// what the outer init reported. Run therefore uses nothing but the
// standard library and test/initramfs: it runs as a static program inside
// that machine.
package scenario
