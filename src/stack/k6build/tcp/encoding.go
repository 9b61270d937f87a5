package tcp

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/grafana/sobek"

	"go.k6.io/k6/v2/js/common"
)

// toBytes converts write() data to a private copy of its bytes (the script may reuse its buffer
// as soon as write() returns, while the bytes are written by another goroutine).
func toBytes(rt *sobek.Runtime, v sobek.Value, encoding string) ([]byte, error) {
	if common.IsNullish(v) {
		return nil, fmt.Errorf("write(): data must be a string, ArrayBuffer or Uint8Array")
	}
	switch x := v.Export().(type) {
	case string:
		return encodeString(x, encoding)
	case sobek.ArrayBuffer:
		return cloneBytes(x.Bytes()), nil
	case *sobek.ArrayBuffer:
		return cloneBytes(x.Bytes()), nil
	}
	obj, ok := v.(*sobek.Object)
	if !ok {
		return encodeString(v.String(), encoding)
	}
	// Any ArrayBufferView (Uint8Array, DataView, Buffer-like): take its window of the buffer.
	if ab, ok := obj.Get("buffer").Export().(sobek.ArrayBuffer); ok {
		all := ab.Bytes()
		off := obj.Get("byteOffset").ToInteger()
		n := obj.Get("byteLength").ToInteger()
		if off < 0 || n < 0 || off+n > int64(len(all)) {
			return nil, fmt.Errorf("write(): invalid view of an ArrayBuffer")
		}
		return cloneBytes(all[off : off+n]), nil
	}
	var b []byte
	if err := rt.ExportTo(v, &b); err == nil {
		return cloneBytes(b), nil
	}
	return nil, fmt.Errorf("write(): data must be a string, ArrayBuffer or Uint8Array")
}

func cloneBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// encodeString follows Node's Buffer.from(string, encoding) for the supported encodings.
func encodeString(s, encoding string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "utf8", "utf-8":
		return []byte(s), nil
	case "ascii", "latin1", "binary":
		// one byte per UTF-16 code unit, low 8 bits (what Node does)
		units := utf16.Encode([]rune(s))
		out := make([]byte, len(units))
		for i, u := range units {
			out[i] = byte(u)
		}
		return out, nil
	case "hex":
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("write(): invalid hex string: %w", err)
		}
		return b, nil
	case "base64", "base64url":
		// accept both alphabets, with or without padding, like Node
		t := strings.NewReplacer("-", "+", "_", "/", "\n", "", "\r", "", " ", "").Replace(s)
		t = strings.TrimRight(t, "=")
		b, err := base64.RawStdEncoding.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("write(): invalid base64 string: %w", err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("write(): unsupported encoding %q (use utf8, ascii, latin1, base64, base64url or hex)", encoding)
	}
}
