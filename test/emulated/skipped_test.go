package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// The names the program writes into the tests' environment are the ones
// hosttest reads.
func TestEnvironmentNamesAgreeWithHosttest(t *testing.T) {
	for _, c := range [][2]string{
		{requireEnv, hosttest.RequireEnv}, {allowEnv, hosttest.AllowEnv},
		{kernelEnv, hosttest.KernelEnv}, {slowdownEnv, hosttest.SlowdownEnv}, {emulatedEnv, hosttest.EmulatedEnv}, {reasonKVM, string(hosttest.ReasonKVM)},
	} {
		if c[0] != c[1] {
			t.Errorf("%q, hosttest has %q", c[0], c[1])
		}
	}
}

const hostReport = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestGuest"}
{"Action":"output","Package":"p/a","Test":"TestGuest","Output":"    x_test.go:9: kvm: open /dev/kvm: no such file [skip reason \"kvm\"]\n"}
{"Action":"skip","Package":"p/a","Test":"TestGuest"}
{"Action":"run","Package":"p/a","Test":"TestModel"}
{"Action":"pass","Package":"p/a","Test":"TestModel"}
{"Action":"run","Package":"p/a","Test":"TestTool"}
{"Action":"output","Package":"p/a","Test":"TestTool","Output":"    x_test.go:9: no iasl [skip reason \"tool:iasl\"]\n"}
{"Action":"skip","Package":"p/a","Test":"TestTool"}
{"Action":"output","Package":"p/b","Test":"TestBoot/pvh","Output":"    y_test.go:3: kvm: open /dev/kvm [skip reason \"kvm\"]\n"}
{"Action":"skip","Package":"p/b","Test":"TestBoot/pvh"}
{"Action":"output","Package":"p/b","Test":"TestBoot/elf","Output":"    y_test.go:3: kvm: open /dev/kvm [skip reason \"kvm\"]\n"}
{"Action":"skip","Package":"p/b","Test":"TestBoot/elf"}
{"Action":"pass","Package":"p/b","Test":"TestBoot"}
{"Action":"output","Package":"p/b","Test":"TestLogs","Output":"    y_test.go:5: left out [skip reason \"kvm\"]\n"}
{"Action":"pass","Package":"p/b","Test":"TestLogs"}
go: downloading something
{"Action":"output","Package":"p/a","Test":"TestPIO","Output":"[skip reason \"kvm\"]\n"}
{"Action":"skip","Package":"p/a","Test":"TestPIO"}
`

// Exactly the tests that skipped for want of /dev/kvm are listed, by their
// top-level test, once, per package in the order first seen: not a test
// skipped for another reason, not one that only logged the reason.
func TestSkippedForKVM(t *testing.T) {
	got, err := skippedForKVM(strings.NewReader(hostReport))
	if err != nil {
		t.Fatal(err)
	}
	want := []pkgTests{{"p/a", []string{"TestGuest", "TestPIO"}}, {"p/b", []string{"TestBoot"}}}
	if !slices.EqualFunc(got, want, func(a, b pkgTests) bool { return a.Package == b.Package && slices.Equal(a.Tests, b.Tests) }) {
		t.Errorf("got %v, want %v", got, want)
	}
	if p := runPattern(want[0].Tests); p != "^(TestGuest|TestPIO)$" {
		t.Errorf("pattern %q", p)
	}
}

// Inside the machine /dev/kvm is required: "kvm" is no longer an allowed
// skip, the other allowed reasons stay, and scratch files go to the
// machine's /tmp.
func TestTestEnv(t *testing.T) {
	t.Setenv(allowEnv, "hardware-kvm,kvm,regenerate")
	t.Setenv(requireEnv, "")
	t.Setenv("TMPDIR", "/var/tmp/elsewhere")
	t.Setenv(slowdownEnv, "2")
	env := testEnv(4)
	for _, want := range []string{allowEnv + "=hardware-kvm,regenerate", requireEnv + "=1", "TMPDIR=/tmp", "GOPROXY=off", slowdownEnv + "=4", emulatedEnv + "=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("no %s in %q", want, env)
		}
	}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); (k == "TMPDIR" || k == requireEnv || k == slowdownEnv) && v != "/tmp" && v != "1" && v != "4" {
			t.Errorf("the host's %s stayed", kv)
		}
	}
}
