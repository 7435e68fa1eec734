package raftkv

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrConfig reports a Config that Validate refuses.
	ErrConfig = errors.New("raftkv: invalid config")
	// ErrNotLeader is returned by writes sent to a node that is not the leader.
	ErrNotLeader = errors.New("raftkv: not the leader")
	// ErrNotFound is returned by Get for a key the store does not hold.
	ErrNotFound = errors.New("raftkv: key not found")
	// ErrCommand reports a log entry that is not a valid command.
	ErrCommand = errors.New("raftkv: malformed command")
	// ErrPointer reports a snapshot pointer that is malformed or unusable.
	ErrPointer = errors.New("raftkv: malformed snapshot pointer")
	// ErrInstall reports a snapshot install through the sidecar that did not
	// bring the DB to the pointer's index.
	ErrInstall = errors.New("raftkv: snapshot install")
	// ErrCorrupt reports stored data (the Raft log, the applied index) that
	// does not parse.
	ErrCorrupt = errors.New("raftkv: corrupt stored data")
	// ErrClosed is returned by calls on a node that has shut down.
	ErrClosed = errors.New("raftkv: node shut down")
)
