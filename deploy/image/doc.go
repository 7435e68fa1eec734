// Command image builds snapsync's container image from a static binary,
// without a container runtime or a base image: one layer (the binary, a
// passwd entry for uid 65532, an empty /tmp) on an empty image, written as
// an OCI layout and a docker archive. Every timestamp is the Unix epoch and
// every entry is written in a fixed order, so the same binary gives the
// same image digest on every build.
package main
