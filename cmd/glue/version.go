package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// baseVersion is glue's version as the source tree knows it; release
// commits change it. A build adds the VCS revision to it where the go
// command stamped one (see docs/building.md).
const baseVersion = "0.1.0-dev"

// version replaces the whole version when set at link time
// (-ldflags "-X main.version=v1.2.3").
var version = ""

func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return fmt.Sprintf("glue %s (%s, %s/%s)", versionOf(version, info), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionOf picks the version to print: the link-time one, else the
// module version the go command recorded (go install module@version),
// else baseVersion plus "+REVISION" (12 hex digits, "-dirty" for a
// modified tree) when the build was VCS-stamped. info may be nil.
func versionOf(linked string, info *debug.BuildInfo) string {
	if linked != "" {
		return linked
	}
	if info == nil {
		return baseVersion
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := baseVersion
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(revision) >= 12 {
		v += "+" + revision[:12]
		if modified == "true" {
			v += "-dirty"
		}
	}
	return v
}
