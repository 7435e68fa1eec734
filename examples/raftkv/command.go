package raftkv

import (
	"encoding/binary"
	"fmt"
)

// Limits of a command, checked before anything is allocated.
const (
	// MaxKeySize bounds a key's length.
	MaxKeySize = 4 << 10
	// MaxValueSize bounds a value's length.
	MaxValueSize = 1 << 20
)

// opPut is the only operation a command carries today; the byte leaves room
// for others.
const opPut byte = 1

// command is one write replicated through the Raft log.
type command struct {
	Key   []byte
	Value []byte
}

// encodeCommand returns the log entry of a put: the op byte, the key's length
// as a uvarint, the key, then the value.
func encodeCommand(c command) ([]byte, error) {
	if err := checkSizes(len(c.Key), len(c.Value)); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen32+len(c.Key)+len(c.Value))
	b = append(b, opPut)
	b = binary.AppendUvarint(b, uint64(len(c.Key)))
	b = append(b, c.Key...)
	return append(b, c.Value...), nil
}

// decodeCommand parses a log entry made by encodeCommand. The command's
// slices alias b.
func decodeCommand(b []byte) (command, error) {
	if len(b) == 0 {
		return command{}, fmt.Errorf("%w: empty", ErrCommand)
	}
	if b[0] != opPut {
		return command{}, fmt.Errorf("%w: unknown op %d", ErrCommand, b[0])
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 {
		return command{}, fmt.Errorf("%w: bad key length", ErrCommand)
	}
	rest := b[1+w:]
	if n > uint64(len(rest)) {
		return command{}, fmt.Errorf("%w: key length %d beyond entry", ErrCommand, n)
	}
	c := command{Key: rest[:n], Value: rest[n:]}
	if err := checkSizes(len(c.Key), len(c.Value)); err != nil {
		return command{}, err
	}
	return c, nil
}

// checkSizes enforces the limits on keys and values.
func checkSizes(key, value int) error {
	if key == 0 || key > MaxKeySize {
		return fmt.Errorf("%w: key length %d not in [1, %d]", ErrCommand, key, MaxKeySize)
	}
	if value > MaxValueSize {
		return fmt.Errorf("%w: value length %d over %d", ErrCommand, value, MaxValueSize)
	}
	return nil
}
