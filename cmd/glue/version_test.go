package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	t.Parallel()
	stamped := func(settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/gluevmm/glue", Version: "(devel)"}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		linked string
		info   *debug.BuildInfo
		want   string
	}{
		{"no build info", "", nil, baseVersion},
		{"not VCS-stamped", "", stamped(), baseVersion},
		{"VCS-stamped", "", stamped("vcs.revision", rev, "vcs.modified", "false"), baseVersion + "+0123456789ab"},
		{"modified tree", "", stamped("vcs.revision", rev, "vcs.modified", "true"), baseVersion + "+0123456789ab-dirty"},
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}}, "v0.2.0"},
		{"set at link time", "v9.9.9", stamped("vcs.revision", rev), "v9.9.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := versionOf(tt.linked, tt.info); got != tt.want {
				t.Errorf("versionOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// The binary's own line always carries a version, whatever the build's
// stamping (go test builds without VCS information).
func TestVersionStringHasBaseVersion(t *testing.T) {
	t.Parallel()
	if got := versionString(); !strings.HasPrefix(got, "glue "+baseVersion) {
		t.Errorf("versionString() = %q, want it to start with %q", got, "glue "+baseVersion)
	}
}
