package control

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// requestKeys are the keys a version-1 request may have: wireRequest's
// JSON tags, so that a field added there is accepted here too. Computed on
// the first request, not in every glue process's start-up.
var requestKeys = sync.OnceValue(func() []string { return jsonKeys(reflect.TypeFor[wireRequest]()) })

func jsonKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	return keys
}

// checkKeys insists that the JSON object in line has only keys from known,
// each once and spelled exactly. encoding/json matches keys without regard
// to case and lets the last of duplicates win, and DisallowUnknownFields
// catches neither; a protocol for scripts should not guess what "OP" or a
// second "op" meant. line must already have decoded as an object.
func checkKeys(line []byte, known []string) *Error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errorf(CodeBadRequest, "request is not a JSON object")
	}
	seen := make(map[string]bool, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errorf(CodeBadRequest, "malformed request: %v", err)
		}
		key, _ := tok.(string)
		if !slices.Contains(known, key) {
			for _, k := range known {
				if strings.EqualFold(k, key) {
					return errorf(CodeBadRequest, "field %q: keys are case-sensitive; want %q", truncate(key, 64), k)
				}
			}
			return errorf(CodeBadRequest, "unknown field %q (fields: %s)", truncate(key, 64), strings.Join(known, ", "))
		}
		if seen[key] {
			return errorf(CodeBadRequest, "field %q given twice", key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return errorf(CodeBadRequest, "malformed request: %v", err)
		}
	}
	return nil
}
