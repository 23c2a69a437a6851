package console

// EscapeKey is the prefix of the console escape sequences: Ctrl-a, as in QEMU.
const EscapeKey = 0x01

// EscapeHelp describes the sequences for users.
const EscapeHelp = "Ctrl-a x quits glue; Ctrl-a Ctrl-a sends Ctrl-a to the guest"

// Escape filters a host input stream for the escape sequences:
// Ctrl-a x quits; Ctrl-a Ctrl-a passes one Ctrl-a through; Ctrl-a followed by
// anything else passes both bytes through. The state survives across calls,
// so a sequence split between two reads is still recognised.
type Escape struct {
	pending bool
}

// Filter returns the bytes meant for the guest and whether the user asked to
// quit. Bytes after a quit sequence are dropped.
func (e *Escape) Filter(in []byte) (out []byte, quit bool) {
	out = make([]byte, 0, len(in))
	for _, c := range in {
		if e.pending {
			e.pending = false
			switch c {
			case 'x', 'X':
				return out, true
			case EscapeKey:
				out = append(out, EscapeKey)
			default:
				out = append(out, EscapeKey, c)
			}
			continue
		}
		if c == EscapeKey {
			e.pending = true
			continue
		}
		out = append(out, c)
	}
	return out, false
}
