package raftkv

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// logHeaderSize is the fixed part of an encoded entry: term, type and the
// time it was appended.
const logHeaderSize = 8 + 1 + 8

// encodeLog returns the stored form of an entry (its index is the key):
// term, type, AppendedAt in Unix nanoseconds (0 for the zero time), then
// Data and Extensions, each after its length as a uvarint.
func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, logHeaderSize+2*binary.MaxVarintLen64+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.AppendUvarint(b, uint64(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.AppendUvarint(b, uint64(len(l.Extensions)))
	return append(b, l.Extensions...)
}

// decodeLog parses an entry encodeLog made into l, copying out of b. The
// bytes come from disk and are checked before anything is allocated.
func decodeLog(index uint64, b []byte, l *raft.Log) error {
	if len(b) < logHeaderSize {
		return fmt.Errorf("%w: raft log %d: %d bytes", ErrCorrupt, index, len(b))
	}
	*l = raft.Log{Index: index, Term: binary.BigEndian.Uint64(b), Type: raft.LogType(b[8])}
	if at := int64(binary.BigEndian.Uint64(b[9:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	rest := b[logHeaderSize:]
	var err error
	if l.Data, rest, err = cutField(rest); err != nil {
		return fmt.Errorf("%w: raft log %d data: %v", ErrCorrupt, index, err)
	}
	if l.Extensions, rest, err = cutField(rest); err != nil {
		return fmt.Errorf("%w: raft log %d extensions: %v", ErrCorrupt, index, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: raft log %d: %d trailing bytes", ErrCorrupt, index, len(rest))
	}
	return nil
}

// cutField returns a copy of the length-prefixed field at the start of b
// (nil when empty) and what follows it.
func cutField(b []byte) (field, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, nil, fmt.Errorf("bad length")
	}
	b = b[w:]
	if n > uint64(len(b)) {
		return nil, nil, fmt.Errorf("length %d beyond the %d bytes left", n, len(b))
	}
	if n > 0 {
		field = append([]byte(nil), b[:n]...)
	}
	return field, b[n:], nil
}
