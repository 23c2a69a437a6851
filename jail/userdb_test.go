package jail

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookupDB(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "passwd")
	db := strings.Join([]string{
		"# comment:x:7:7",
		"",
		"root:x:0:0:root:/root:/bin/bash",
		"+nis",
		"short:x",
		"svc:x:64002:64002::/nonexistent:/usr/sbin/nologin",
		"root2:x:5:5",
		"weird:x:abc:0",
		"long:x:9:9:" + strings.Repeat("g", 8000) + ":/:/bin/sh",
		"last:x:64003:64003", // no newline at the end
	}, "\n")
	if err := os.WriteFile(path, []byte(db), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		found    bool
	}{
		{"root", "0", true},
		{"svc", "64002", true},
		{"weird", "abc", true}, // LookupID reports it as not a number
		{"long", "9", true},
		{"last", "64003", true},
		{"roo", "", false},
		{"short", "", false},
		{"nis", "", false},
		{"+nis", "", false},
		{"# comment", "", false},
		{"", "", false},
	} {
		id, found, err := lookupDB(path, tc.name)
		if err != nil || id != tc.id || found != tc.found {
			t.Errorf("lookupDB(%q) = %q, %v, %v; want %q, %v", tc.name, id, found, err, tc.id, tc.found)
		}
	}
	if _, _, err := lookupDB(filepath.Join(t.TempDir(), "none"), "root"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing database: %v, want fs.ErrNotExist", err)
	}
}
