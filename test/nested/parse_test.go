package nested

import (
	"strings"
	"testing"
)

// The marker lines of one boot become attempts with their logs and
// results; a line that is no marker is kept for the test to fail on.
func TestOutcomeParse(t *testing.T) {
	t.Parallel()
	lines := []string{
		"NESTED-READY kvm-api=12",
		"NESTED-BEGIN a attempt=1",
		"NESTED-LOG a| glue: VM name vm-1",
		"NESTED-LOG a| GLUE-DONE init ok=8 failed=0",
		"NESTED-STALL a attempt=1",
		`NESTED-RESULT a attempt=1 {"exit":-1,"stalled":true,"secs":150}`,
		"NESTED-BEGIN a attempt=2",
		"NESTED-LOG a| line | with bars",
		`NESTED-RESULT a attempt=2 {"exit":0,"stalled":false,"secs":12.5,"problems":["p"]}`,
		"stray",
		`NESTED-COMPARE {"vmm":"qemu","round":3,"init_s":9.5}`,
		"NESTED-DONE",
	}
	o := &Outcome{Attempts: map[string][]*Attempt{}}
	for _, l := range lines {
		o.parse(l, 0)
	}
	if !o.Done || o.Fatal != "" || len(o.Unexpected) != 1 || o.Unexpected[0] != "stray" {
		t.Fatalf("done %v, fatal %q, unexpected %q", o.Done, o.Fatal, o.Unexpected)
	}
	if len(o.Compared) != 1 || o.Compared[0].VMM != "qemu" || o.Compared[0].Round != 3 || o.Compared[0].InitSecs != 9.5 {
		t.Errorf("compare boots %+v, want the one of round 3", o.Compared)
	}
	as := o.Attempts["a"]
	if len(as) != 2 {
		t.Fatalf("%d attempts, want 2", len(as))
	}
	first, second := as[0], as[1]
	if first.Number != 1 || !first.Ended || !first.Result.Stalled || len(first.Log) != 2 {
		t.Errorf("first attempt: %+v", first)
	}
	if second.Number != 2 || !second.Ended || second.Result.Stalled || second.Result.Exit != 0 ||
		second.Result.Secs != 12.5 || len(second.Result.Problems) != 1 {
		t.Errorf("second attempt: %+v", second)
	}
	if second.Result.Output != "line | with bars\n" {
		t.Errorf("second attempt's output %q, want its one log line", second.Result.Output)
	}
}

// Complaints are found, environment messages are recognised by their
// exact text only: another MSR, another value or other words fail.
func TestUnknownComplaints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		unknown bool
	}{
		{"[   54.852911] kvm [91]: vcpu0, guest rIP: 0xffffffff8107e744 Unhandled WRMSR(0xc0010007) = 0xffff", false},
		{"[   54.852911] kvm [91]: vcpu1, guest rIP: 0xffffffff8107e744 Unhandled WRMSR(0xc0010004) = 0xffff", true},
		{"[   54.852911] kvm [91]: vcpu0, guest rIP: 0xffffffff8107e744 Unhandled WRMSR(0xc0010007) = 0x1", true},
		{"[   54.852911] kvm [91]: vcpu0, guest rIP: 0xffffffff8107e744 Unhandled RDMSR(0xc0010007)", true},
		{"[  112.1] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [glue:120]", true},
		{"[    0.1] WARNING: CPU: 0 PID: 0 at arch/x86/kernel/fpu/xstate.c:1 x", true},
		{"GLUE-KLOG <4>[    2.978753] WARNING: CPU: 0 PID: 0 at arch/x86/kernel/fpu/xstate.c:606 fpu__init_system_xstate+0x85a/0xb19", false},
		{"GLUE-KLOG <4>[    2.978753] WARNING: CPU: 1 PID: 0 at arch/x86/kernel/fpu/xstate.c:606 fpu__init_system_xstate+0x85a/0xb19", true},
		{"GLUE-KLOG <4>[    2.975327] Speculative Return Stack Overflow: WARNING: See https://kernel.org/doc/html/latest/admin-guide/hw-vuln/srso.html for mitigation options.", false},
		{"[  584.538869] reboot: Power down", false},
		{"[   12.1] glue[77]: segfault at 0 ip 0 sp 0 error 4", true},
		{"[   12.1] traps: init[1] general protection fault ip:4011", true},
		{"[  242.1] INFO: task glue:91 blocked for more than 120 seconds.", true},
		{"[    0.1] WARNING: CPU: 0 PID: 0 at arch/x86/kernel/fpu/xstate.c:999 fpu__init_system_xstate+0x85a/0xb19", true},
		{"[   12.1] Oops: 0000 [#1] PREEMPT SMP NOPTI", true},
		{"[   12.1] BUG: kernel NULL pointer dereference, address: 0", true},
		{"GLUE-OK init cpus online=0-3 n=4", false},
	}
	for _, tt := range tests {
		got := unknownComplaints([]string{tt.line})
		if (len(got) > 0) != tt.unknown {
			t.Errorf("%q: unknown complaints %q, want unknown=%v", tt.line, got, tt.unknown)
		}
	}
	for _, m := range environmentMessages {
		if strings.TrimSpace(m.why) == "" {
			t.Errorf("environment message %s has no reason", m.text)
		}
	}
}

// The PMU check counts the outer KVM's lines for the legacy-counter probe,
// with or without the kernel's timestamp, and nothing else.
func TestLegacyPerfProbes(t *testing.T) {
	t.Parallel()
	console := []string{
		"[   57.405845] kvm [91]: vcpu0, guest rIP: 0xffffffff8107e744 Unhandled WRMSR(0xc0010007) = 0xffff",
		"kvm [104]: vcpu1, guest rIP: 0xffffffff8787e744 Unhandled WRMSR(0xc0010007) = 0xffff",
		"[   57.405845] kvm [91]: vcpu0, guest rIP: 0xffffffff8107e744 Unhandled WRMSR(0xc0010201) = 0xffff",
		"[  102.638556] reboot: Power down",
	}
	if n := legacyPerfProbes(console); n != 2 {
		t.Errorf("%d probes, want 2", n)
	}
}

// The PMU check counts each glue run of an attempt: a root-disk scenario
// boots Linux three times in one attempt.
func TestLinuxBoots(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		log            []string
		begun, reached int
	}{
		{"one boot to init", []string{"GLUE-BOOT 1", "glue: VM name x", "GLUE-OK init mounts proc"}, 1, 1},
		{"three boots, the last stuck early", []string{"GLUE-BOOT 1", "GLUE-OK init pid1 pid=1", "GLUE-BOOT 2",
			"GLUE-OK init pid1 pid=1", "GLUE-BOOT 3", "[ 1.0] early"}, 3, 2},
		{"a log without markers", []string{"GLUE-OK init pid1 pid=1"}, 1, 1},
	}
	for _, tt := range tests {
		a := &Attempt{Log: tt.log}
		if b, r := a.linuxBoots(); b != tt.begun || r != tt.reached {
			t.Errorf("%s: %d begun, %d reached init; want %d, %d", tt.name, b, r, tt.begun, tt.reached)
		}
	}
}
