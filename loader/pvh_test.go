package loader

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
)

func TestFindPVHEntry(t *testing.T) {
	t.Parallel()
	notes := loadertest.EncodeNotes
	xen4 := loadertest.Note{Name: "Xen", Type: 18, Desc: []byte{0x78, 0x56, 0x34, 0x12}}
	tests := []struct {
		name      string
		notes     []byte
		align     uint64
		wantEntry uint32
		wantFound bool
		wantErr   error
	}{
		{name: "empty", notes: nil},
		{name: "8-byte descriptor (Linux)", notes: notes(loadertest.PVHNote(0x1000200)), wantEntry: 0x1000200, wantFound: true},
		{name: "4-byte descriptor", notes: notes(xen4), wantEntry: 0x12345678, wantFound: true},
		{name: "after other notes", notes: notes(
			loadertest.Note{Name: "GNU", Type: 3, Desc: make([]byte, 20)},
			loadertest.Note{Name: "Xen", Type: 17, Desc: make([]byte, 8)},
			xen4), wantEntry: 0x12345678, wantFound: true},
		{name: "after a long-named note", notes: notes(
			loadertest.Note{Name: strings.Repeat("long name ", 20), Type: 18, Desc: []byte{1, 2, 3, 4, 5}},
			xen4), wantEntry: 0x12345678, wantFound: true},
		{name: "first of two wins", notes: notes(xen4, loadertest.PVHNote(0x2000)), wantEntry: 0x12345678, wantFound: true},
		{name: "name without NUL", notes: []byte{3, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 1, 2, 3, 4}, wantEntry: 0x04030201, wantFound: true},
		{name: "other owner", notes: notes(loadertest.Note{Name: "Xenon", Type: 18, Desc: make([]byte, 4)})},
		{name: "last padding cut off", notes: notes(loadertest.Note{Name: "Linux", Type: 1, Desc: []byte{1}})[:21]},
		{name: "8-byte aligned notes", notes: []byte{
			4, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0, 1, 2, 3, 4, 0, 0, 0, 0, // descriptor padded to 8
			4, 0, 0, 0, 8, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 0x00, 0x10, 0, 0, 0, 0, 0, 0,
		}, align: 8, wantEntry: 0x1000, wantFound: true},
		{name: "header truncated", notes: notes(xen4)[:8], wantErr: ErrMalformedNote},
		{name: "trailing bytes", notes: append(notes(xen4), 1, 2, 3), wantErr: ErrMalformedNote},
		{name: "descriptor truncated", notes: notes(xen4)[:18], wantErr: ErrMalformedNote},
		{name: "namesz max", notes: []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0}, wantErr: ErrMalformedNote},
		{name: "descsz max", notes: []byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 18, 0, 0, 0, 'X', 'e', 'n', 0}, wantErr: ErrMalformedNote},
		{name: "descriptor 2 bytes", notes: notes(loadertest.Note{Name: "Xen", Type: 18, Desc: []byte{1, 2}}), wantErr: ErrMalformedNote},
		{name: "descriptor 16 bytes", notes: notes(loadertest.Note{Name: "Xen", Type: 18, Desc: make([]byte, 16)}), wantErr: ErrMalformedNote},
		{name: "entry above 4 GiB", notes: notes(loadertest.Note{Name: "Xen", Type: 18, Desc: []byte{0, 0, 0, 0, 1, 0, 0, 0}}), wantErr: ErrMalformedNote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entry, found, err := findPVHEntry(bytes.NewReader(tt.notes), uint64(len(tt.notes)), tt.align)
			if tt.wantErr != nil {
				assertErrorIs(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if entry != tt.wantEntry || found != tt.wantFound {
				t.Errorf("got entry %#x found %v, want %#x %v", entry, found, tt.wantEntry, tt.wantFound)
			}
		})
	}
}
