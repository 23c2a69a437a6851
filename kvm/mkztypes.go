//go:build ignore

// mkztypes regenerates ztypes_linux_amd64.go from types_linux.go:
//
//	go run mkztypes.go
//
// It runs `go tool cgo -godefs` (which needs a C compiler and the kernel's
// UAPI headers, linux-libc-dev) and puts back the doc comments that godefs
// drops, so that every generated struct says which C struct it mirrors.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"strings"
)

const (
	input  = "types_linux.go"
	output = "ztypes_linux_amd64.go"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mkztypes: ")
	docs, err := declDocs(input)
	if err != nil {
		log.Fatal(err)
	}
	generated, err := godefs(input)
	if err != nil {
		log.Fatal(err)
	}
	src, err := format.Source(addDocs(generated, docs))
	if err != nil {
		log.Fatalf("format output: %v", err)
	}
	if err := os.WriteFile(output, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// godefs runs cgo -godefs with a throwaway object directory, so that no
// build debris lands in the package directory.
func godefs(file string) ([]byte, error) {
	objdir, err := os.MkdirTemp("", "mkztypes")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(objdir)
	cmd := exec.Command("go", "tool", "cgo", "-godefs", "-objdir", objdir, file)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool cgo -godefs %s: %w", file, err)
	}
	return out, nil
}

// declDocs maps the name of each documented type, and of the first constant
// of each documented const declaration, to its doc comment.
func declDocs(file string) (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	docs := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Doc == nil || len(gd.Specs) == 0 {
			continue
		}
		var name string
		switch spec := gd.Specs[0].(type) {
		case *ast.TypeSpec:
			name = spec.Name.Name
		case *ast.ValueSpec:
			name = spec.Names[0].Name
		default:
			continue
		}
		var b strings.Builder
		for _, c := range gd.Doc.List {
			b.WriteString(c.Text)
			b.WriteByte('\n')
		}
		docs[name] = b.String()
	}
	return docs, nil
}

// addDocs inserts each doc comment before the declaration godefs emitted for
// the same name: "type NAME ...", "const NAME = ...", or a "const (" whose
// first line declares NAME.
func addDocs(src []byte, docs map[string]string) []byte {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var out bytes.Buffer
	for i, line := range lines {
		if strings.HasPrefix(line, "// cgo -godefs") {
			// The command line names the temporary objdir; keep the output stable.
			line = "// go run mkztypes.go (cgo -godefs " + input + ")"
		}
		var name string
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 2 && (fields[0] == "type" || fields[0] == "const") && fields[1] != "(":
			name = fields[1]
		case line == "const (" && i+1 < len(lines):
			if next := strings.Fields(lines[i+1]); len(next) > 0 {
				name = next[0]
			}
		}
		out.WriteString(docs[name])
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}
