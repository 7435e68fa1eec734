package raftkv

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPointerRoundTrip(t *testing.T) {
	t.Parallel()
	testCases := []Pointer{
		{SidecarURL: "http://127.0.0.1:7600", Term: 2, Index: 5003},
		{SidecarURL: "https://om1.example:7600/", SnapshotID: strings.Repeat("ab", 32), Term: 1, Index: 1},
		{SidecarURL: "http://h:1", Index: 0},
	}
	for _, p := range testCases {
		b, err := p.Encode()
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		got, err := DecodePointer(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if got != p {
			t.Fatalf("got %+v, want %+v", got, p)
		}
	}
}

func TestPointerKnownAnswer(t *testing.T) {
	t.Parallel()
	b, err := Pointer{SidecarURL: "http://127.0.0.1:7600", Term: 3, Index: 42}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"sidecar_url":"http://127.0.0.1:7600","term":3,"index":42}` + "\n"
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
}

func TestPointerRefused(t *testing.T) {
	t.Parallel()
	testCases := []struct{ name, in string }{
		{"empty", ""},
		{"not json", "sidecar"},
		{"unknown field", `{"sidecar_url":"http://h:1","index":1,"path":"/etc"}`},
		{"trailing object", `{"sidecar_url":"http://h:1","index":1}{}`},
		{"trailing brace", `{"sidecar_url":"http://h:1","index":1}}`},
		{"no url", `{"index":1}`},
		{"file url", `{"sidecar_url":"file:///etc/passwd","index":1}`},
		{"no host", `{"sidecar_url":"http://","index":1}`},
		{"negative index", `{"sidecar_url":"http://h:1","index":-1}`},
		{"short id", `{"sidecar_url":"http://h:1","snapshot_id":"abcd","index":1}`},
		{"too large", `{"sidecar_url":"http://h:1","index":1}` + strings.Repeat(" ", MaxPointerSize)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if p, err := DecodePointer(strings.NewReader(tc.in)); !errors.Is(err, ErrPointer) {
				t.Fatalf("got %+v, %v; want ErrPointer", p, err)
			}
		})
	}
}

func FuzzDecodePointer(f *testing.F) {
	f.Add([]byte(`{"sidecar_url":"http://127.0.0.1:7600","term":3,"index":42}`))
	f.Add([]byte(`{"sidecar_url":"https://h:1/x","snapshot_id":"` + strings.Repeat("0f", 32) + `","term":1,"index":1}`))
	f.Add([]byte(`{"sidecar_url":"http://h:1","index":1}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePointer(bytes.NewReader(in))
		if err != nil {
			return
		}
		b, err := p.Encode()
		if err != nil {
			t.Fatalf("re-encode a decoded pointer: %v", err)
		}
		if again, err := DecodePointer(bytes.NewReader(b)); err != nil || again != p {
			t.Fatalf("round trip: got %+v, %v; want %+v", again, err, p)
		}
	})
}
