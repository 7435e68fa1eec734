// Package wire turns snapsync's domain values into the messages of its APIs
// where more than one API sends the same message. The peer API
// (SnapshotService) and the local API (InstallService) describe a snapshot
// with one SnapshotInfo, made here, so that both fill every field alike; the
// installs and the backups name the chunks they fetch with AppendChunk.
package wire
