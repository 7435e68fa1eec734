package raftkv

import (
	"bytes"
	"errors"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name       string
		key, value []byte
	}{
		{"small", []byte("a"), []byte("1")},
		{"empty value", []byte("k"), nil},
		{"binary", []byte{0, 0xff, '\n'}, bytes.Repeat([]byte{0}, 1000)},
		{"largest", bytes.Repeat([]byte("k"), MaxKeySize), bytes.Repeat([]byte("v"), MaxValueSize)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := encodeCommand(command{Key: tc.key, Value: tc.value})
			if err != nil {
				t.Fatal(err)
			}
			c, err := decodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Key, tc.key) || !bytes.Equal(c.Value, tc.value) {
				t.Fatalf("got %q=%q, want %q=%q", c.Key, c.Value, tc.key, tc.value)
			}
		})
	}
}

func TestCommandRefused(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name  string
		entry []byte
	}{
		{"empty", nil},
		{"unknown op", []byte{9, 1, 'k'}},
		{"no key length", []byte{opPut}},
		{"overlong varint", append([]byte{opPut}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"key beyond entry", []byte{opPut, 5, 'k'}},
		{"empty key", []byte{opPut, 0, 'v'}},
		{"key too long", append([]byte{opPut, 0x81, 0x20}, bytes.Repeat([]byte("k"), MaxKeySize+1)...)},
		{"value too long", append([]byte{opPut, 1, 'k'}, make([]byte, MaxValueSize+1)...)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeCommand(tc.entry); !errors.Is(err, ErrCommand) {
				t.Fatalf("decode: got %v, want ErrCommand", err)
			}
		})
	}
	if _, err := encodeCommand(command{}); !errors.Is(err, ErrCommand) {
		t.Fatalf("encode empty key: got %v, want ErrCommand", err)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, seed := range [][]byte{{opPut, 1, 'k', 'v'}, {opPut, 0x80, 0x01}, {2}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry []byte) {
		c, err := decodeCommand(entry)
		if err != nil {
			return
		}
		again, err := encodeCommand(c)
		if err != nil {
			t.Fatalf("re-encode a decoded command: %v", err)
		}
		c2, err := decodeCommand(again)
		if err != nil || !bytes.Equal(c2.Key, c.Key) || !bytes.Equal(c2.Value, c.Value) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
