package doctest

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		want    []block
		wantErr string
	}{{
		name: "script with the output it shows",
		doc:  "text\n\n```sh\necho hi\n```\n\n```\nhi\n```\n",
		want: []block{{line: 3, lang: "sh", body: []string{"echo hi"}, output: []string{"hi"}}},
	}, {
		name: "an untyped block after text is not output",
		doc:  "```sh\necho hi\n```\nSee:\n```\nunrelated\n```\n",
		want: []block{{line: 1, lang: "sh", body: []string{"echo hi"}}},
	}, {
		name: "skip directive, other comments between",
		doc:  "<!-- doctest: skip needs a disk -->\n<!-- test-command -->\n```console\n$ ls\n```\n",
		want: []block{{line: 3, lang: "console", body: []string{"$ ls"}, skip: "needs a disk"}},
	}, {
		name: "blocks that are not commands are left alone",
		doc:  "```go\npackage p\n```\n```json\n{}\n```\n```bash\ntrue\n```\n",
		want: []block{{line: 7, lang: "bash", body: []string{"true"}}},
	}, {
		name: "a fence in a list item",
		doc:  "- step:\n\n  ```sh\n  echo a\n    indented\n  ```\n",
		want: []block{{line: 3, lang: "sh", body: []string{"echo a", "  indented"}}},
	}, {
		name:    "unknown directive",
		doc:     "<!-- doctest: skipp typo -->\n```sh\ntrue\n```\n",
		wantErr: "the only one is",
	}, {
		name:    "skip without a reason",
		doc:     "<!-- doctest: skip -->\n```sh\ntrue\n```\n",
		wantErr: "the only one is",
	}, {
		name:    "directive before text",
		doc:     "<!-- doctest: skip why -->\nsome text\n```sh\ntrue\n```\n",
		wantErr: "right before a code block",
	}, {
		name:    "directive before a block that is not run",
		doc:     "<!-- doctest: skip why -->\n```go\npackage p\n```\n",
		wantErr: "which is not run",
	}, {
		name:    "directive at the end",
		doc:     "```sh\ntrue\n```\n<!-- doctest: skip why -->\n",
		wantErr: "followed by no code block",
	}, {
		name:    "unclosed block",
		doc:     "```sh\ntrue\n",
		wantErr: "never closed",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseMarkdown(tt.doc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("blocks\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseConsole(t *testing.T) {
	t.Parallel()
	b := block{line: 10, lang: "console", body: []string{
		"$ glue run --detach -n web",
		"web",
		"$ glue stop --all   # the power button first",
		"                    # (a comment continued)",
		"$ glue run \\",
		"    --net tap=tap0   # exit status 2",
		"glue: --net: no",
	}}
	got, err := parseConsole(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []command{
		{line: 11, text: "glue run --detach -n web", want: []string{"web"}},
		{line: 13, text: "glue stop --all   # the power button first"},
		{line: 15, text: "glue run \\\n    --net tap=tap0   # exit status 2", want: []string{"glue: --net: no"}, status: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("commands\n%#v\nwant\n%#v", got, want)
	}
	if _, err := parseConsole(block{body: []string{"output first"}}); err == nil {
		t.Error("a console block that starts with output: no error")
	}
}

func TestMissingLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		want      []string
		got, miss string
	}{
		{"exact", []string{"GLUE-DONE"}, "GLUE-DONE\n", ""},
		{"numbers vary", []string{"GLUE-COUNT 41"}, "GLUE-COUNT 7\n", ""},
		{"values of KEY=VALUE vary", []string{"GLUE-OK mem usable=536476672 top=0x20000000"}, "GLUE-OK mem usable=1 top=0x2\n", ""},
		{"the key does not", []string{"GLUE-OK mem usable=536476672"}, "GLUE-OK mem free=1\n", "GLUE-OK mem usable=536476672"},
		{"words without digits do not", []string{"web  running"}, "web  paused\n", "web  running"},
		{"spacing varies", []string{"NAME  PID   STATE"}, "NAME PID STATE\n", ""},
		{"whole lines", []string{"GLUE-OK rng"}, "GLUE-OK rng bytes=64\n", "GLUE-OK rng"},
		{"in order, with lines between", []string{"a", "c"}, "a\nb\nc\n", ""},
		{"out of order", []string{"c", "a"}, "a\nb\nc\n", "a"},
		{"missing", []string{"GLUE-DONE"}, "GLUE-FAIL x\n", "GLUE-DONE"},
		{"regexp characters are literal", []string{"(built-in guest)"}, "xbuilt-in guestx\n", "(built-in guest)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := missingLine(tt.want, tt.got); got != tt.miss {
				t.Fatalf("missing %q, want %q", got, tt.miss)
			}
		})
	}
}
