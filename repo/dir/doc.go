// Package dir is a repository backend on a local directory: each key is a
// file below the root, its slashes subdirectories. Puts are atomic and
// durable (a uniquely named temporary file, fsync, rename, fsync of the
// directory), so a reader or a crash never sees a partial object.
// Keys are validated before they reach the filesystem: no "..", no absolute
// paths, no element that starts with a dot (temporary files do).
package dir
