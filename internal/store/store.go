// Package store is kapstan's state store: a small object store keyed by
// slash-separated paths, with compare-and-swap writes.
//
// Every write names a [Precondition]: the object must be absent
// ([IfAbsent]), must still be at the revision the caller read ([IfMatch]),
// or the write is blind ([Unconditionally], only for derived data). A write
// whose precondition fails returns a [*ConflictError], so two kapstan
// processes editing the same cluster never silently overwrite each other.
//
// Three backends implement [Store]:
//
//   - memory:// keeps objects in a map, for tests.
//   - file://DIR keeps one file per object under DIR and serializes writers,
//     across processes too, with flock(2) on DIR/.kapstan.lock.
//   - s3://bucket/prefix keeps one object per key and relies on S3
//     conditional writes (If-None-Match / If-Match).
//
// [Open] picks the backend from a URL.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Revision identifies one version of one object. Callers must treat it as
// opaque: compare it for equality and pass it back to [IfMatch], nothing
// else.
//
// Every backend derives it from the content. The memory and file stores use
// the hex encoding of the first 16 bytes of the SHA-256 of the data; the S3
// store uses the object's ETag without its quotes, which for a single-part
// put is the hex MD5 of the data. The empty Revision means "no object".
type Revision string

// Object is one stored object.
type Object struct {
	// Key is the object's key, relative to the store.
	Key string
	// Data is the object's content.
	Data []byte
	// Revision is the revision of Data.
	Revision Revision
}

type preconditionKind int

const (
	// preconditionInvalid is the zero value, so a Precondition that was
	// never set is rejected rather than read as "unconditionally".
	preconditionInvalid preconditionKind = iota
	preconditionIfAbsent
	preconditionIfMatch
	preconditionNone
)

// Precondition says when a write or delete may happen. Build one with
// [IfAbsent], [IfMatch] or [Unconditionally]; the zero value is invalid
// and is rejected by every Store method.
type Precondition struct {
	kind preconditionKind
	rev  Revision
}

// IfAbsent allows the write only if the key does not exist
// (S3 If-None-Match: *).
func IfAbsent() Precondition { return Precondition{kind: preconditionIfAbsent} }

// IfMatch allows the write only if the key exists at exactly rev
// (S3 If-Match). IfMatch("") is invalid: use [IfAbsent] to create.
func IfMatch(rev Revision) Precondition { return Precondition{kind: preconditionIfMatch, rev: rev} }

// Unconditionally allows the write whatever the key holds: the last writer
// wins. Use it only for derived or materialized data that can be rebuilt,
// never for the cluster spec itself.
func Unconditionally() Precondition { return Precondition{kind: preconditionNone} }

// String describes p for messages, e.g. "if-match 1a2b".
func (p Precondition) String() string {
	switch p.kind {
	case preconditionIfAbsent:
		return "if-absent"
	case preconditionIfMatch:
		return "if-match " + string(p.rev)
	case preconditionNone:
		return "unconditionally"
	default:
		return "invalid precondition"
	}
}

// validate rejects the zero Precondition and IfMatch("").
func (p Precondition) validate() error {
	switch p.kind {
	case preconditionIfAbsent, preconditionNone:
		return nil
	case preconditionIfMatch:
		if p.rev == "" {
			return errors.New("invalid precondition: IfMatch needs a revision (use IfAbsent to create)")
		}
		return nil
	default:
		return errors.New("invalid precondition: use IfAbsent, IfMatch or Unconditionally")
	}
}

// check reports whether p holds for an object currently at cur ("" when
// absent). op is "writing" or "deleting", for the error message.
func (p Precondition) check(op, key string, cur Revision) error {
	switch p.kind {
	case preconditionIfAbsent:
		if cur != "" {
			return &ConflictError{Op: op, Key: key, Got: cur}
		}
	case preconditionIfMatch:
		if cur != p.rev {
			return &ConflictError{Op: op, Key: key, Want: p.rev, Got: cur, Gone: cur == ""}
		}
	}
	return nil
}

// validateDelete rejects preconditions that make no sense for Delete.
func (p Precondition) validateDelete() error {
	if err := p.validate(); err != nil {
		return err
	}
	if p.kind == preconditionIfAbsent {
		return errors.New("invalid precondition: Delete takes IfMatch or Unconditionally, not IfAbsent")
	}
	return nil
}

// PutOption changes how [Store.Put] stores an object.
type PutOption func(*putOptions)

type putOptions struct {
	secret bool
}

func collectPutOptions(opts []PutOption) putOptions {
	var o putOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Secret marks the object as secret (keys, tokens). The file store writes it
// with mode 0600 instead of 0644; the S3 store encrypts every object at rest
// (SSE-S3) anyway, so there it changes nothing.
func Secret() PutOption { return func(o *putOptions) { o.secret = true } }

// Store is a state store. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the object at key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (*Object, error)
	// Put stores data at key if pre holds and returns the new revision.
	// When pre does not hold it returns a *ConflictError.
	Put(ctx context.Context, key string, data []byte, pre Precondition, opts ...PutOption) (Revision, error)
	// Delete removes key if pre holds, which must be IfMatch or
	// Unconditionally. Deleting a missing key with Unconditionally is not
	// an error; with IfMatch it is a *ConflictError.
	Delete(ctx context.Context, key string, pre Precondition) error
	// List returns every key under prefix, recursively, sorted ascending.
	// prefix is a plain string prefix, as in S3: "demo/" lists the keys of
	// the cluster "demo", while "demo" would also list "demo2/config".
	// Entries of the backend that are not valid keys are left out.
	List(ctx context.Context, prefix string) ([]string, error)
	// URL is how the user names this store, e.g.
	// file:///home/u/.config/kapstan/state or s3://bucket/prefix.
	URL() string
}

// ErrNotFound is wrapped by errors for a key that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict matches every *ConflictError with errors.Is.
var ErrConflict = errors.New("conflict")

// ConflictError is returned when a precondition does not hold: someone else
// wrote or deleted the object since the caller read it. errors.Is(err,
// ErrConflict) is true for it.
type ConflictError struct {
	// Op is what was being done: "writing" or "deleting".
	Op string
	// Key is the object's key.
	Key string
	// Want is the revision the caller expected; "" for IfAbsent.
	Want Revision
	// Got is the revision the store has, or "" when the object is absent
	// or the backend does not say (S3 only answers "precondition failed").
	Got Revision
	// Gone is true when the caller expected an object that no longer
	// exists.
	Gone bool
}

// Error describes the conflict, e.g.
// `conflict writing "demo/config": expected revision 1a2b, store has 9f8e`.
func (e *ConflictError) Error() string {
	op := e.Op
	if op == "" {
		op = "writing"
	}
	prefix := fmt.Sprintf("conflict %s %q: ", op, e.Key)
	switch {
	case e.Want == "" && e.Got != "":
		return prefix + "expected no object, store has revision " + string(e.Got)
	case e.Want == "":
		return prefix + "expected no object, one exists"
	case e.Gone:
		return prefix + "expected revision " + string(e.Want) + ", object is gone"
	case e.Got != "":
		return prefix + "expected revision " + string(e.Want) + ", store has " + string(e.Got)
	default:
		return prefix + "expected revision " + string(e.Want) + ", store has another"
	}
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ValidateKey reports whether key can name an object: a non-empty relative
// path of slash-separated segments, none of them empty, "." or "..", with
// no backslash or NUL, and no segment starting with ".kapstan" (reserved
// for the file store's lock and temporary files).
func ValidateKey(key string) error {
	if err := validatePath(key); err != nil {
		return err
	}
	if strings.HasSuffix(key, "/") {
		return fmt.Errorf("invalid key %q: must not end with /", key)
	}
	return nil
}

// validatePrefix checks a List prefix: like a key, but it may be empty and
// may end with a slash.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("invalid prefix %q: must be relative, not start with /", prefix)
	}
	if err := validatePath(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("invalid prefix %q: %w", prefix, errors.Unwrap(err))
	}
	return nil
}

// validatePath holds the checks shared by keys and prefixes. Its errors wrap
// a bare reason so validatePrefix can reword them.
func validatePath(key string) error {
	bad := func(reason string) error {
		return fmt.Errorf("invalid key %q: %w", key, errors.New(reason))
	}
	switch {
	case key == "":
		return bad("must not be empty")
	case strings.HasPrefix(key, "/"):
		return bad("must be relative, not start with /")
	case strings.ContainsRune(key, '\\'):
		return bad(`must use / as separator, not \`)
	case strings.ContainsRune(key, 0):
		return bad("must not contain NUL")
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return bad("must not contain empty segments (//)")
		case seg == "." || seg == "..":
			return bad("must not contain . or .. segments")
		case strings.HasPrefix(seg, reservedPrefix):
			return bad("segments starting with " + reservedPrefix + " are reserved")
		}
	}
	return nil
}

// reservedPrefix starts the names of the file store's own files, which
// keys may not use.
const reservedPrefix = ".kapstan"

// contentRevision is the Revision of data in the memory and file stores.
func contentRevision(data []byte) Revision {
	sum := sha256.Sum256(data)
	return Revision(hex.EncodeToString(sum[:16]))
}

// Open opens the store named by url:
//
//   - file:///abs/dir, or a bare path (absolute or relative): [FileStore]
//   - s3://bucket or s3://bucket/prefix: [S3Store], with AWS settings from
//     the environment (config.LoadDefaultConfig, so AWS_ENDPOINT_URL works)
//   - memory:// or memory://name: a new, empty [MemoryStore]
//
// Open does no I/O for file and memory stores, and does not check that an
// S3 bucket exists.
func Open(ctx context.Context, url string) (Store, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		if url == "" {
			return nil, errors.New("opening store: empty URL")
		}
		return NewFile(url)
	}
	switch scheme {
	case "file":
		if rest == "" {
			return nil, fmt.Errorf("opening store %q: file:// URL needs a directory", url)
		}
		return NewFile(rest)
	case "s3":
		return OpenS3(ctx, rest)
	case "memory":
		return NewMemory(rest), nil
	default:
		return nil, fmt.Errorf("opening store %q: unknown scheme %q (want file://, s3:// or memory://)", url, scheme)
	}
}

// DefaultURL is the store used when the user names none:
// file://<user config dir>/kapstan/state, e.g.
// file:///home/u/.config/kapstan/state on Linux.
func DefaultURL() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding the default state store: %w", err)
	}
	return "file://" + filepath.Join(dir, "kapstan", "state"), nil
}
