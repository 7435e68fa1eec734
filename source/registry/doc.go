// Package registry is the registry:ROOT source, for a database another
// process owns: the node registers each checkpoint it makes (over the
// sidecar's local RegistryService), or a Maker (package exec's command) makes
// one on demand, and the sidecar serves the newest that reaches a request's
// Raft index.
//
// Each served checkpoint is hard-linked into the server's own work directory,
// so the server's leases protect its copy and a superseded original can be
// deleted as soon as a newer one is registered.
package registry
