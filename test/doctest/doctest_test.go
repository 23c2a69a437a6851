// Package doctest runs the command blocks of README.md and docs/*.md as a
// reader would: every ```sh, ```bash, ```shell and ```console block is
// executed, unless a `<!-- doctest: skip REASON -->` comment right before
// it says what set-up it needs that a test cannot give.
//
// The blocks of one document run in order in one directory (a later block
// may use what an earlier one made), which links to the checkout's
// packages so that `go build ./cmd/glue` works, with a freshly built glue
// first in PATH, a runtime directory of their own, stdin at EOF, and each
// block in a new network namespace, so that a tap it creates never touches
// the host's network. A block must succeed (scripts run with `set -euo
// pipefail`) within blockTimeout. Output is compared where the document
// shows it: after a console block's `$ ` command, or in an untyped block
// right after a script; the shown lines must appear in order, with words
// that vary between runs (those with digits) matching anything.
package doctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/test/hosttest"
)

// blockTimeout bounds one block (scaled by hosttest.Timeout); the slowest
// (building glue three times with build tags) takes about 15 s on a
// loaded 2-core host.
const blockTimeout = 2 * time.Minute

// repoRoot is the checkout, relative to this package's directory.
const repoRoot = "../.."

// documents are the files whose blocks run: README.md and docs/*.md.
func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, filepath.ToSlash(must(filepath.Rel(repoRoot, d))))
	}
	return files
}

func TestDocumentCommands(t *testing.T) {
	kvmtest.Open(t)
	hosttest.Root(t, "runs each block in a network namespace of its own, where the examples create taps")
	unshare := hosttest.LookPath(t, "unshare")
	hosttest.LookPath(t, "ip")
	root := must(filepath.Abs(repoRoot))
	bin := buildGlue(t, root)
	for _, file := range documents(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			text, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := parseMarkdown(string(text))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			s := newSession(t, root, bin, unshare)
			for _, b := range blocks {
				if b.skip != "" {
					t.Logf("%s: not run: %s", b.name(file), b.skip)
					continue
				}
				if b.lang == "console" {
					s.runConsole(t, file, b)
				} else {
					s.runScript(t, file, b)
				}
			}
		})
	}
}

// buildGlue builds the static glue the documents' `glue` commands run,
// as `make glue` does.
func buildGlue(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "glue"), "./cmd/glue")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build glue: %v\n%s", err, out)
	}
	return dir
}

// session is where one document's blocks run.
type session struct {
	dir, unshare string
	env          []string
}

func newSession(t *testing.T, root, bin, unshare string) *session {
	t.Helper()
	dir := t.TempDir()
	// The checkout's packages and module files, so that commands like
	// `go build ./cmd/glue` work here; what the blocks write stays here.
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if (e.IsDir() && !strings.HasPrefix(name, ".")) || name == "go.mod" || name == "go.sum" {
			if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtimeDir := filepath.Join(t.TempDir(), "run") // glue makes it, 0700 as it wants
	s := &session{dir: dir, unshare: unshare, env: append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GLUE_RUNTIME_DIR="+runtimeDir,
		"GOBIN="+filepath.Join(dir, "gobin"), // `go install` stays here too
	)}
	// VMs a block left running in the background.
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "glue"), "stop", "--all", "--timeout", "1s")
		cmd.Env = s.env
		cmd.Run()
	})
	return s
}

// run runs a bash script in a new network namespace with its loopback up,
// stdout and stderr together, and returns what it printed.
func (s *session) run(t *testing.T, name, script string) (string, error) {
	t.Helper()
	timeout := hosttest.Timeout(blockTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.unshare, "--net", "bash", "-c", "ip link set lo up\n"+script)
	cmd.Dir, cmd.Env = s.dir, s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that what it started in the background
	// ends with it; a detached VM (a session of its own) is stopped by
	// the session's cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("%s did not finish within %v", name, timeout)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // a background process kept the output open; it is gone now
	}
	return out.String(), err
}

func (s *session) runScript(t *testing.T, file string, b block) {
	t.Helper()
	name := b.name(file)
	out, err := s.run(t, name, "set -euo pipefail\n"+strings.Join(b.body, "\n"))
	if err != nil {
		t.Errorf("%s: %v; the block:\n%s\nprinted:\n%s", name, err, strings.Join(b.body, "\n"), out)
		return
	}
	if missing := missingLine(b.output, out); missing != "" {
		t.Errorf("%s: the output shown after the block has %q, which the run did not print:\n%s", name, missing, out)
	}
}

func (s *session) runConsole(t *testing.T, file string, b block) {
	t.Helper()
	name := b.name(file)
	cmds, err := parseConsole(b)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	// One shell for the whole session (a command may use what one before
	// it started), with a marker line before each command and its status
	// after, to split the output.
	mark := "doctest-" + rand.Text()
	var script strings.Builder
	for i, c := range cmds {
		fmt.Fprintf(&script, "printf '\\n%s %d\\n'\n%s\nprintf '\\n%s status %d %%d\\n' $?\n", mark, i, c.text, mark, i)
	}
	out, err := s.run(t, name, script.String())
	if err != nil {
		t.Errorf("%s: %v; printed:\n%s", name, err, out)
		return
	}
	for i, c := range cmds {
		got, status, ok := commandOutput(out, mark, i)
		switch {
		case !ok:
			t.Errorf("%s:%d: `%s` did not finish; the session printed:\n%s", file, c.line, c.text, out)
			return
		case status != c.status:
			t.Errorf("%s:%d: `%s` exited with status %d, want %d; it printed:\n%s", file, c.line, c.text, status, c.status, got)
		default:
			if missing := missingLine(c.want, got); missing != "" {
				t.Errorf("%s:%d: `%s` is shown to print %q, which it did not; it printed:\n%s", file, c.line, c.text, missing, got)
			}
		}
	}
}

// commandOutput returns what command i of a console session printed
// between its markers, and its exit status.
func commandOutput(out, mark string, i int) (string, int, bool) {
	re := regexp.MustCompile(`(?s)\n` + mark + " " + strconv.Itoa(i) + `\n(.*)\n` + mark + " status " + strconv.Itoa(i) + ` (\d+)\n`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return "", 0, false
	}
	status, _ := strconv.Atoi(m[2])
	return m[1], status, true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
