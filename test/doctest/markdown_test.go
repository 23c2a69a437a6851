package doctest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// runLangs are the fence languages whose blocks are commands to run.
// "console" blocks are a session: `$ ` lines are commands, the lines after
// one are what it prints. The others are scripts.
var runLangs = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// block is one fenced code block that the doc test runs.
type block struct {
	line int    // of the opening fence, 1-based
	lang string // the fence's language
	body []string
	// skip is the reason of a `<!-- doctest: skip REASON -->` before the
	// block; such a block is not run.
	skip string
	// output is the untyped block that follows a script with nothing but
	// blank lines between: the output the script is shown to print.
	output []string
}

func (b block) name(file string) string { return file + ":" + strconv.Itoa(b.line) }

var (
	directiveRe = regexp.MustCompile(`^<!--\s*doctest:\s*(.*?)\s*-->$`)
	commentRe   = regexp.MustCompile(`^<!--.*-->$`)
)

// parseMarkdown returns the runnable blocks of a Markdown document. A
// doctest directive that does not apply (an unknown one, a skip without
// a reason, one before a block that is not run or before no block at all)
// is an error, so that a typo cannot silently take a block out.
func parseMarkdown(text string) ([]block, error) {
	var (
		blocks   []block
		skip     string // a pending directive's reason
		skipLine int
		// last is the script whose output block may follow; it stays set
		// while only blank lines come after it.
		last = -1
	)
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if m := directiveRe.FindStringSubmatch(trimmed); m != nil {
			reason, ok := strings.CutPrefix(m[1], "skip ")
			if !ok || strings.TrimSpace(reason) == "" {
				return nil, fmt.Errorf("line %d: doctest directive %q: the only one is `doctest: skip REASON`", i+1, m[1])
			}
			if skip != "" {
				return nil, fmt.Errorf("line %d: a second doctest directive; the one on line %d applies to no block", i+1, skipLine)
			}
			skip, skipLine, last = strings.TrimSpace(reason), i+1, -1
			continue
		}
		if trimmed == "" || commentRe.MatchString(trimmed) {
			continue
		}
		fence, ok := strings.CutPrefix(trimmed, "```")
		if !ok {
			if skip != "" {
				return nil, fmt.Errorf("line %d: the doctest directive must come right before a code block", skipLine)
			}
			last = -1
			continue
		}
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		lang := ""
		if f := strings.Fields(fence); len(f) > 0 {
			lang = f[0]
		}
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, trimIndent(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: code block is never closed", start+1)
		}
		switch {
		case runLangs[lang]:
			blocks = append(blocks, block{line: start + 1, lang: lang, body: body, skip: skip})
			last = -1
			if lang != "console" {
				last = len(blocks) - 1
			}
		case skip != "":
			return nil, fmt.Errorf("line %d: doctest directive before a %q block, which is not run", skipLine, lang)
		case lang == "" && last >= 0:
			blocks[last].output = body
			last = -1
		default:
			last = -1
		}
		skip = ""
	}
	if skip != "" {
		return nil, fmt.Errorf("line %d: the doctest directive is followed by no code block", skipLine)
	}
	return blocks, nil
}

// trimIndent removes up to n leading spaces, the indentation of a fence
// inside a list item.
func trimIndent(s string, n int) string {
	for range n {
		t, ok := strings.CutPrefix(s, " ")
		if !ok {
			break
		}
		s = t
	}
	return s
}

// command is one `$ ` command of a console block.
type command struct {
	line   int // in the document
	text   string
	want   []string // the lines shown after it
	status int      // the exit status it is shown to have
}

var exitStatusRe = regexp.MustCompile(`#.*\bexit status (\d+)\s*$`)

// parseConsole splits a console block into its commands. A command ends
// at a line without a trailing backslash; the lines after it up to the next
// `$ ` are its output, except lines that are only a shell comment (a
// comment continued under the command). A trailing comment that says
// "exit status N" is the status the command must end with; 0 otherwise.
func parseConsole(b block) ([]command, error) {
	var cmds []command
	for i := 0; i < len(b.body); i++ {
		l := b.body[i]
		text, ok := strings.CutPrefix(l, "$ ")
		if !ok {
			if len(cmds) == 0 {
				return nil, fmt.Errorf("line %d: a console block starts with a `$ ` command, not %q", b.line+1+i, l)
			}
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				cmds[len(cmds)-1].want = append(cmds[len(cmds)-1].want, l)
			}
			continue
		}
		c := command{line: b.line + 1 + i, text: text}
		for strings.HasSuffix(c.text, `\`) && i+1 < len(b.body) {
			i++
			c.text += "\n" + b.body[i]
		}
		if m := exitStatusRe.FindStringSubmatch(c.text); m != nil {
			c.status, _ = strconv.Atoi(m[1])
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// linePattern turns a line of shown output into a pattern that accepts
// what varies between runs: a word with a digit in it (a VM name, a PID,
// an uptime, a version) matches any word, and in KEY=VALUE only the value
// varies. Runs of spaces match any run of spaces (tables realign).
func linePattern(want string) *regexp.Regexp {
	var parts []string
	for _, word := range strings.Fields(want) {
		switch key, _, isKV := strings.Cut(word, "="); {
		case !strings.ContainsAny(word, "0123456789"):
			parts = append(parts, regexp.QuoteMeta(word))
		case isKV && key != "" && !strings.ContainsAny(key, "0123456789"):
			parts = append(parts, regexp.QuoteMeta(key+"=")+`\S*`)
		default:
			parts = append(parts, `\S+`)
		}
	}
	return regexp.MustCompile(`^\s*` + strings.Join(parts, `\s+`) + `\s*$`)
}

// missingLine returns the first shown line that the output lacks: each
// shown line must match a line of got (linePattern), in order; got may
// have more lines between them. It returns "" when every line is there.
func missingLine(want []string, got string) string {
	lines := strings.Split(got, "\n")
	j := 0
	for _, w := range want {
		if strings.TrimSpace(w) == "" {
			continue
		}
		re := linePattern(w)
		for j < len(lines) && !re.MatchString(lines[j]) {
			j++
		}
		if j == len(lines) {
			return w
		}
		j++
	}
	return ""
}
