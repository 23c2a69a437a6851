package tap

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string // want: part of the error, "" for valid
	}{
		{"kernel chooses", "", ""},
		{"plain", "tap0", ""},
		{"15 bytes", "abcdefghijklmno", ""},
		{"pattern", "glue%d", ""},
		{"16 bytes", "abcdefghijklmnop", "16 bytes long, the limit is 15"},
		{"dot", ".", `cannot be "."`},
		{"dotdot", "..", `cannot be "."`},
		{"slash", "a/b", "cannot contain"},
		{"colon", "eth0:1", "cannot contain"},
		{"space", "tap 0", "cannot contain"},
		{"newline", "tap\n", "cannot contain"},
		{"nul", "tap\x00", "cannot contain"},
		{"two patterns", "t%d%d", `only as one "%d"`},
		{"bad pattern", "t%s", `only as one "%d"`},
		{"trailing percent", "t%", `only as one "%d"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validName(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("validName(%q) = %v, want nil", tc.in, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("validName(%q) = %v, want an error with %q", tc.in, err, tc.want)
			}
		})
	}
}
