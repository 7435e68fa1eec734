package server

import "github.com/snapsync/snapsync/internal/durable"

// tmpSuffix marks files being written; New removes leftovers.
const tmpSuffix = durable.TmpSuffix

// writeFileAtomic installs data at path with durable.WriteFile: a crash
// leaves either the old file or the new one, never a torn one.
func writeFileAtomic(path string, data []byte) error {
	return durable.WriteFile(durable.OS(), path, data, 0o644)
}

// removeFile removes path (a missing file is fine) and fsyncs its directory.
func removeFile(path string) error { return durable.Remove(durable.OS(), path) }
