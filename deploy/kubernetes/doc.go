// Package kubernetes holds no code: its test decodes the example manifests
// in this directory strictly and runs the sidecar's arguments through the
// real snapsync binary.
package kubernetes
