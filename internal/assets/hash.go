package assets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Sum reads r to its end and returns the hex SHA-256 and the size of
// what it read.
func Sum(r io.Reader) (sha string, size int64, err error) {
	h := sha256.New()
	size, err = io.Copy(h, r)
	if err != nil {
		return "", size, err
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

// MismatchError says a file is not the asset it should be: its SHA-256
// (or size) differs from the one recorded.
type MismatchError struct {
	// Name is the asset's name; Where is the file or object read.
	Name, Where string
	// Want and Got are the recorded and the found hex SHA-256.
	Want, Got string
	// WantSize and GotSize are the recorded and the found sizes.
	WantSize, GotSize int64
}

func (e *MismatchError) Error() string {
	if e.Want == e.Got {
		return fmt.Sprintf("asset %s: %s has %d bytes, want %d", e.Name, e.Where, e.GotSize, e.WantSize)
	}
	return fmt.Sprintf("asset %s: %s has sha256 %s, want %s", e.Name, e.Where, e.Got, e.Want)
}

// Verify reads r, which claims to be asset a (found at where), and
// returns a *MismatchError unless its SHA-256 and size are a's. An asset
// without a recorded hash cannot be verified and is an error.
func Verify(a Asset, where string, r io.Reader) error {
	if a.SHA256 == "" {
		return fmt.Errorf("asset %s: no SHA-256 recorded to check %s against", a.Name, where)
	}
	got, size, err := Sum(r)
	if err != nil {
		return fmt.Errorf("asset %s: reading %s: %w", a.Name, where, err)
	}
	if got != a.SHA256 || (a.Size > 0 && size != a.Size) {
		return &MismatchError{Name: a.Name, Where: where, Want: a.SHA256, Got: got, WantSize: a.Size, GotSize: size}
	}
	return nil
}
