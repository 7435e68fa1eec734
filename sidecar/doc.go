// Package sidecar is the node-facing side of a snapsync sidecar: the local
// InstallService a Raft node calls to bring a peer's checkpoint in (Prepare,
// Commit, Abort, Status) and the RegistryService it calls to offer the
// checkpoints it makes, both plain Connect/gRPC services a stock gRPC client
// can drive.
//
// Each destination has one state machine, IDLE -> PREPARING -> PREPARED ->
// COMMITTING -> IDLE (or FAILED), whose Prepare runs in the background, outlives
// the RPC that started it, is joined by repeated calls and superseded by a
// call naming another leader or a higher index, without losing what is staged.
//
// LocalHandler and PeerHandler mount the services with gRPC health and
// reflection on the sidecar's two listeners, and Listen opens them, refusing
// to put the local API on a non-loopback address unless told to.
package sidecar
