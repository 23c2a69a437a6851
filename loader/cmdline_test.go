package loader

import (
	"bytes"
	"strings"
	"testing"
)

func TestCmdline(t *testing.T) {
	t.Parallel()
	var c Cmdline
	if c.String() != "" || !bytes.Equal(c.Bytes(), []byte{0}) {
		t.Fatalf("zero Cmdline is %q / %q", c.String(), c.Bytes())
	}
	if err := c.Add("console=ttyS0", "reboot=k"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(`dyndbg="file foo.c +p"`); err != nil {
		t.Fatal(err)
	}
	want := `console=ttyS0 reboot=k dyndbg="file foo.c +p"`
	if c.String() != want || c.Len() != len(want) {
		t.Errorf("String() = %q (len %d), want %q", c.String(), c.Len(), want)
	}
	if got := c.Bytes(); !bytes.Equal(got, append([]byte(want), 0)) {
		t.Errorf("Bytes() = %q", got)
	}
	if err := c.CheckLength(len(want)); err != nil {
		t.Errorf("CheckLength(exact) = %v", err)
	}
}

func TestCmdlineRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params []string
	}{
		{"empty parameter", []string{"console=ttyS0", ""}},
		{"NUL", []string{"a\x00b"}},
		{"newline", []string{"panic=1\ninit=/bin/sh"}},
		{"carriage return", []string{"quiet\r"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewCmdline("root=/dev/vda")
			if err != nil {
				t.Fatal(err)
			}
			err = c.Add(tt.params...)
			assertErrorIs(t, err, ErrCmdlineInvalid)
			if c.String() != "root=/dev/vda" {
				t.Errorf("a failed Add changed the command line to %q", c.String())
			}
			if _, err := NewCmdline(tt.params...); err == nil {
				t.Error("NewCmdline accepted it")
			}
		})
	}
}

func TestCmdlineCheckLength(t *testing.T) {
	t.Parallel()
	c, err := NewCmdline(strings.Repeat("x", 2100))
	if err != nil {
		t.Fatal(err)
	}
	k := &Kernel{CmdlineMax: DefaultCmdlineSize - 1}
	err = c.CheckLength(k.CmdlineMax)
	assertErrorIs(t, err, ErrCmdlineTooLong)
	if want := "loader: command line is 2100 bytes; this kernel accepts at most 2047"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
