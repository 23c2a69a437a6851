package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, line string
		want       Stat
		bad        bool
	}{
		{"process", "100 (glue) S 99 100 1 0 -1 4194560 812 0 0 0 250 17 0 0 20 0 3 0 100\n",
			Stat{Comm: "glue", State: 'S', PPID: 99, Flags: 4194560, UTime: 250, STime: 17}, false},
		{"kernel thread", "106 (kvm-nx-lpage-recovery-103) S 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 9",
			Stat{Comm: "kvm-nx-lpage-recovery-103", State: 'S', PPID: 2, Flags: 2129984}, false},
		{"comm with ) and spaces", "7 (a) b (c) T 1 7 7 0 -1 4194304 0 0 0 0 3 4 0 0",
			Stat{Comm: "a) b (c", State: 'T', PPID: 1, Flags: 4194304, UTime: 3, STime: 4}, false},
		{"cut short", "7 (x) R 1 7 7 0 -1 0 0", Stat{}, true},
		{"no comm", "7 x R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0", Stat{}, true},
		{"state of two letters", "7 (x) RS 1 7 7 0 -1 0 0 0 0 0 1 2 0 0", Stat{}, true},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0 0", Stat{}, true},
		{"empty", "", Stat{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.line)
			if (err != nil) != tt.bad || got != tt.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, error %v", tt.line, got, err, tt.want, tt.bad)
			}
		})
	}
}

func TestStatHelpers(t *testing.T) {
	t.Parallel()
	s := Stat{UTime: 250, STime: 17, Flags: PFKthread | 0x40}
	if got := s.CPU(); got != 2670*time.Millisecond {
		t.Errorf("CPU() = %v, want 2.67s", got)
	}
	if !s.Kthread() || (Stat{Flags: 0x40}).Kthread() {
		t.Errorf("Kthread() wrong for flags %#x and 0x40", s.Flags)
	}
}

func TestReadsItself(t *testing.T) {
	t.Parallel()
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PPID != os.Getppid() || s.State != 'R' {
		t.Errorf("Read(self) = %+v, want parent %d, state R", s, os.Getppid())
	}
	if _, err := Read(-1); err == nil {
		t.Error("Read(-1): no error")
	}
}
