package auth

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// checkModes warns about each secret file, as last loaded, that another uid
// may read. The mode is the file's, through symlinks: a Kubernetes Secret's
// key is a symlink (always 0777) through ..data to the file that counts. Not
// a refusal: a Secret's files are 0644 unless its defaultMode says
// otherwise, and belong to root, and the operator often cannot change that.
func (r *reloader[T]) checkModes() {
	me := uint32(os.Getuid()) //nolint:gosec // uids fit in 32 bits on Linux
	for i, f := range r.files {
		s := r.stamps[i]
		if !f.secret {
			continue
		}
		if why := exposure(s.mode, s.uid, me); why != "" {
			r.log.Warn().Str("what", r.what).Str("file", f.path).Uint32("owner", s.uid).
				Str("mode", fmt.Sprintf("%04o", uint32(s.mode.Perm()))).Str("exposure", why).
				Msg("a secret file other users may read: make it 0600 (or 0400) and owned by this uid")
		}
	}
}

// exposure says who besides this process may read a file of mode owned by
// owner ("" for nobody): its group or others, or its owner when that is
// another uid than me (root, which reads everything anyway, excepted).
func exposure(mode fs.FileMode, owner, me uint32) string {
	var who, why []string
	if mode&0o040 != 0 {
		who = append(who, "group")
	}
	if mode&0o004 != 0 {
		who = append(who, "others")
	}
	if len(who) > 0 {
		why = append(why, strings.Join(who, " and ")+" can read it")
	}
	if owner != me && owner != 0 {
		why = append(why, fmt.Sprintf("owned by uid %d", owner))
	}
	return strings.Join(why, "; ")
}
