package archtest

import (
	"slices"
	"strings"
)

// The design rules of docs/design.md, which no line of the allow-list may
// break. Packages are named as in the allow-list.

// leaves import only the standard library and golang.org/x/sys.
var leaves = []string{"kvm", "guestmem", "bus", "serial", "i8042", "pci", "tap"}

// devices are the device-model trees: unit-tested without /dev/kvm, they
// never reach for KVM, vCPUs or the event loop.
var devices = []string{"serial", "i8042", "rtc", "virtio", "pci"}

// edge is one allowed import: from imports to, in from's non-test files or
// (test) only in its _test.go files.
type edge struct {
	from, to string
	test     bool
}

// forbidden returns the design rule that the edge breaks, or "". isHelper
// reports whether a module package is a test helper.
func forbidden(e edge, isHelper func(pkg string) bool) string {
	from, to := e.from, e.to
	switch {
	case from == to:
		return ""
	case under(to, "cmd"):
		return "nothing imports cmd/glue"
	case under(to, "vmm") && from != "cmd/glue":
		return "only cmd/glue imports vmm (control defines Target, which *vmm.VM satisfies)"
	case underAny(from, devices) && underAny(to, []string{"kvm", "vcpu", "eventloop", "vmm"}):
		return "device packages never import kvm, vcpu, eventloop or vmm"
	case from == "virtio" && under(to, "virtio") && !isHelper(to):
		return "virtio never imports a transport or a device"
	case under(from, "pci") && under(to, "virtio"):
		return "pci never imports virtio"
	case !e.test && slices.Contains(leaves, from) && !under(to, "golang.org/x/sys"):
		return strings.Join(leaves, ", ") + " import only the standard library and golang.org/x/sys"
	case !e.test && isHelper(to) && !isHelper(from):
		return "only tests and other test helpers import a test helper (it links package testing)"
	}
	return ""
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

func underAny(pkg string, dirs []string) bool {
	return slices.ContainsFunc(dirs, func(d string) bool { return under(pkg, d) })
}
