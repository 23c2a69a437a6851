package jail

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// The host's user and group databases, read from their files rather than
// through os/user, which links cgo (getpwnam_r) wherever a C compiler is
// installed, and glue must build static. Like os/user built without cgo,
// this finds only names in the files, not those of other NSS sources (LDAP,
// systemd's dynamic users): give such an account by number.
const (
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// maxDBLine bounds one line of a database file.
const maxDBLine = 64 << 10

// lookupDB returns the id (the third field) of the entry called name in
// the passwd- or group-format file at path; found is false if none is.
func lookupDB(path, name string) (id string, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxDBLine)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		// Blank lines and NIS "+name" lines have no id field, or a
		// name that is not the one looked for.
		fields := strings.SplitN(line, ":", 4)
		if len(fields) >= 3 && fields[0] == name {
			return fields[2], true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	return "", false, nil
}
