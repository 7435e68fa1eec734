package durable

import (
	"errors"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type rec struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	testCases := []struct {
		name     string
		in       string
		ok       bool
		trailing bool
	}{
		{"one object", `{"a": 1, "b": "x"}`, true, false},
		{"white space after", "{\"a\": 1}\n\t ", true, false},
		{"unknown field", `{"a": 1, "c": 2}`, false, false},
		{"second object", `{"a": 1}{"a": 2}`, false, true},
		{"garbage after", `{"a": 1} x`, false, true},
		{"truncated", `{"a": 1`, false, false},
		{"empty", ``, false, false},
		{"wrong type", `{"a": "1"}`, false, false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			var r rec
			err := DecodeJSON([]byte(tc.in), &r)
			if (err == nil) != tc.ok || errors.Is(err, ErrTrailingData) != tc.trailing {
				t.Fatalf("DecodeJSON(%q) = %v, want ok %t, trailing %t", tc.in, err, tc.ok, tc.trailing)
			}
		})
	}
}
