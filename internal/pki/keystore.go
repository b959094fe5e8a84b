package pki

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kapstan/kapstan/internal/store"
)

// ErrNotFound is wrapped by errors for a keypair the keystore lacks.
var ErrNotFound = errors.New("keypair not found")

// KeyError says which keypair is unusable and why: a certificate or key
// that does not parse, an expired certificate, a key that does not match
// its certificate. Its message names the keypair and the store key.
type KeyError struct {
	// ID is the keypair; Key the store key of the bad object.
	ID, Key string
	Err     error
}

func (e *KeyError) Error() string { return fmt.Sprintf("keypair %q (%s): %v", e.ID, e.Key, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// ErrExpired is wrapped by the KeyError of an expired certificate.
var ErrExpired = errors.New("certificate expired")

// Keystore keeps one cluster's keypairs in a state store.
type Keystore struct {
	store   store.Store
	cluster string
	now     func() time.Time
	rand    io.Reader
}

// Option changes a Keystore.
type Option func(*Keystore)

// WithClock sets the keystore's clock (time.Now by default), for tests of
// expiry.
func WithClock(now func() time.Time) Option { return func(k *Keystore) { k.now = now } }

// NewKeystore returns the keystore of cluster in s.
func NewKeystore(s store.Store, cluster string, opts ...Option) *Keystore {
	k := &Keystore{store: s, cluster: cluster, now: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Store is the state store the keystore reads and writes.
func (k *Keystore) Store() store.Store { return k.store }

// Cluster is the cluster this keystore belongs to.
func (k *Keystore) Cluster() string { return k.cluster }

// Prefix is the store prefix of every keypair of the cluster.
func Prefix(cluster string) string { return cluster + "/pki/" }

// CertificateKey and PrivateKeyKey are the store keys of a keypair's two
// halves.
func CertificateKey(cluster, id string) string { return Prefix(cluster) + "issued/" + id + ".crt" }

// PrivateKeyKey is the store key of a keypair's private key.
func PrivateKeyKey(cluster, id string) string { return Prefix(cluster) + "private/" + id + ".key" }

// stored is one half of a keypair as read from the store.
type stored struct {
	key  string
	data []byte
	rev  store.Revision
}

func (k *Keystore) read(ctx context.Context, key string) (*stored, error) {
	obj, err := k.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return &stored{key: key, data: obj.Data, rev: obj.Revision}, nil
}

// Certificate returns a keypair's certificate without reading its private
// key. An unparsable or expired certificate is a *KeyError.
func (k *Keystore) Certificate(ctx context.Context, id string) (*x509.Certificate, error) {
	key := CertificateKey(k.cluster, id)
	s, err := k.read(ctx, key)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("keypair %q of cluster %q: %w", id, k.cluster, ErrNotFound)
	}
	return k.parseCert(id, s)
}

func (k *Keystore) parseCert(id string, s *stored) (*x509.Certificate, error) {
	cert, err := ParseCertificate(s.data)
	if err != nil {
		return nil, &KeyError{ID: id, Key: s.key, Err: fmt.Errorf("corrupted certificate: %w", err)}
	}
	if now := k.now(); now.After(cert.NotAfter) {
		return nil, &KeyError{ID: id, Key: s.key, Err: fmt.Errorf("%w on %s", ErrExpired, cert.NotAfter.UTC().Format(time.RFC3339))}
	}
	return cert, nil
}

// Get returns a keypair with its private key.
func (k *Keystore) Get(ctx context.Context, id string) (*Keypair, error) {
	cert, err := k.Certificate(ctx, id)
	if err != nil {
		return nil, err
	}
	keyKey := PrivateKeyKey(k.cluster, id)
	s, err := k.read(ctx, keyKey)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &KeyError{ID: id, Key: keyKey, Err: errors.New("private key missing")}
	}
	return k.withKey(id, cert, s)
}

func (k *Keystore) withKey(id string, cert *x509.Certificate, s *stored) (*Keypair, error) {
	signer, err := ParsePrivateKey(s.data)
	if err != nil {
		return nil, &KeyError{ID: id, Key: s.key, Err: fmt.Errorf("corrupted private key: %w", err)}
	}
	if !samePublicKey(cert, signer) {
		return nil, &KeyError{ID: id, Key: s.key, Err: errors.New("private key does not match the certificate")}
	}
	return &Keypair{ID: id, Cert: cert, key: signer}, nil
}

// Info describes a stored keypair, without its key.
type Info struct {
	ID   string
	Cert *x509.Certificate
	// HasPrivateKey is false for a certificate whose key is not stored.
	HasPrivateKey bool
	// Err is set when the certificate does not parse or has expired.
	Err error
}

// List describes every keypair of the cluster, sorted by ID. A keypair that
// is unusable is listed with its error rather than failing the listing, so
// `get keypairs` can show what is wrong.
func (k *Keystore) List(ctx context.Context) ([]Info, error) {
	keys, err := k.store.List(ctx, Prefix(k.cluster))
	if err != nil {
		return nil, fmt.Errorf("listing keypairs of cluster %q: %w", k.cluster, err)
	}
	// id returns the keypair ID of key if it is dir/ID.ext.
	id := func(key, dir, ext string) (string, bool) {
		rest, ok := strings.CutPrefix(key, Prefix(k.cluster)+dir+"/")
		if !ok || strings.Contains(rest, "/") {
			return "", false
		}
		return strings.CutSuffix(rest, ext)
	}
	certs, privs := map[string]bool{}, map[string]bool{}
	for _, key := range keys {
		if i, ok := id(key, "issued", ".crt"); ok {
			certs[i] = true
		}
		if i, ok := id(key, "private", ".key"); ok {
			privs[i] = true
		}
	}
	var out []Info
	for id := range certs {
		info := Info{ID: id, HasPrivateKey: privs[id]}
		info.Cert, info.Err = k.Certificate(ctx, id)
		var ke *KeyError
		if info.Err != nil && !errors.As(info.Err, &ke) {
			return nil, info.Err // a store error, not a bad keypair
		}
		if info.Cert == nil && ke != nil && errors.Is(ke, ErrExpired) {
			// Still show what expired.
			if s, err := k.read(ctx, CertificateKey(k.cluster, id)); err == nil && s != nil {
				info.Cert, _ = ParseCertificate(s.data)
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Action is what Ensure did to a keypair.
type Action string

// Actions of Ensure.
const (
	Created  Action = "created"
	Reissued Action = "reissued"
)

// Change is one keypair Ensure created or re-signed. It holds no key
// material and may be printed.
type Change struct {
	ID     string
	Action Action
	// Reason says why a certificate was re-signed.
	Reason string
}

func (c Change) String() string {
	if c.Reason == "" {
		return fmt.Sprintf("%s %s", c.Action, c.ID)
	}
	return fmt.Sprintf("%s %s (%s)", c.Action, c.ID, c.Reason)
}

// Ensure makes sure each spec has a usable keypair in the store, in order
// (a CA must come before what it signs):
//
//   - missing: a key and certificate are made; the key is written first,
//     so a run interrupted between the two leaves a key the next run
//     reuses, never a certificate without its key;
//   - present: it is checked (parses, not expired, key matches, signed by
//     its CA) and kept. A CA or a key is never replaced. A leaf certificate
//     that lacks a name or usage the spec asks for is re-signed with its
//     existing key.
//
// Writes are conditional (if absent, or if unchanged since read), so two
// concurrent runs cannot overwrite each other's keys; the loser gets a
// conflict error and a rerun finds the winner's keys.
func (k *Keystore) Ensure(ctx context.Context, specs []Spec) ([]Change, error) {
	done := map[string]*Keypair{}
	var changes []Change
	for _, spec := range specs {
		var ca *Keypair
		if spec.CA != "" {
			ca = done[spec.CA]
			if ca == nil {
				var err error
				if ca, err = k.Get(ctx, spec.CA); err != nil {
					return changes, fmt.Errorf("keypair %q: its CA: %w", spec.ID, err)
				}
				done[spec.CA] = ca
			}
		}
		kp, change, err := k.ensureOne(ctx, spec, ca)
		if err != nil {
			return changes, err
		}
		done[spec.ID] = kp
		if change != nil {
			changes = append(changes, *change)
		}
	}
	return changes, nil
}

func (k *Keystore) ensureOne(ctx context.Context, spec Spec, ca *Keypair) (*Keypair, *Change, error) {
	certKey, keyKey := CertificateKey(k.cluster, spec.ID), PrivateKeyKey(k.cluster, spec.ID)
	certObj, err := k.read(ctx, certKey)
	if err != nil {
		return nil, nil, err
	}
	keyObj, err := k.read(ctx, keyKey)
	if err != nil {
		return nil, nil, err
	}
	if certObj != nil {
		cert, err := k.parseCert(spec.ID, certObj)
		if err != nil {
			return nil, nil, err
		}
		if keyObj == nil {
			return nil, nil, &KeyError{ID: spec.ID, Key: keyKey, Err: errors.New("private key missing (the certificate exists)")}
		}
		kp, err := k.withKey(spec.ID, cert, keyObj)
		if err != nil {
			return nil, nil, err
		}
		if ca != nil {
			if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
				return nil, nil, &KeyError{ID: spec.ID, Key: certKey, Err: fmt.Errorf("not signed by CA %q: %w", ca.ID, err)}
			}
		}
		ok, why := covers(cert, spec)
		if ok {
			return kp, nil, nil
		}
		if spec.IsCA || spec.CA == "" {
			// Re-signing a CA would orphan everything it signed.
			return nil, nil, &KeyError{ID: spec.ID, Key: certKey, Err: fmt.Errorf("does not match what the cluster needs (%s) and a CA is never replaced", why)}
		}
		if kp.Cert, err = Sign(spec, kp.key.Public(), kp.key, ca, k.now(), k.rand); err != nil {
			return nil, nil, err
		}
		if _, err := k.store.Put(ctx, certKey, kp.CertificatePEM(), store.IfMatch(certObj.rev)); err != nil {
			return nil, nil, fmt.Errorf("keypair %q: re-signing: %w", spec.ID, err)
		}
		return kp, &Change{ID: spec.ID, Action: Reissued, Reason: why}, nil
	}

	kp := &Keypair{ID: spec.ID}
	if keyObj != nil {
		// An earlier run wrote the key and stopped before the certificate.
		signer, err := ParsePrivateKey(keyObj.data)
		if err != nil {
			return nil, nil, &KeyError{ID: spec.ID, Key: keyKey, Err: fmt.Errorf("corrupted private key: %w", err)}
		}
		kp.key = signer
	} else {
		if kp.key, err = NewPrivateKey(k.rand); err != nil {
			return nil, nil, fmt.Errorf("keypair %q: %w", spec.ID, err)
		}
		pemKey, err := EncodePrivateKey(kp.key)
		if err != nil {
			return nil, nil, fmt.Errorf("keypair %q: %w", spec.ID, err)
		}
		if _, err := k.store.Put(ctx, keyKey, []byte(pemKey), store.IfAbsent(), store.Secret()); err != nil {
			return nil, nil, fmt.Errorf("keypair %q: writing the private key: %w", spec.ID, err)
		}
	}
	if kp.Cert, err = Sign(spec, kp.key.Public(), kp.key, ca, k.now(), k.rand); err != nil {
		return nil, nil, err
	}
	if _, err := k.store.Put(ctx, certKey, kp.CertificatePEM(), store.IfAbsent()); err != nil {
		return nil, nil, fmt.Errorf("keypair %q: writing the certificate: %w", spec.ID, err)
	}
	return kp, &Change{ID: spec.ID, Action: Created}, nil
}

// Issue signs a new keypair with a stored CA and returns it without storing
// it: short-lived credentials such as an admin's client certificate.
func (k *Keystore) Issue(ctx context.Context, spec Spec) (*Keypair, error) {
	if spec.CA == "" {
		return nil, fmt.Errorf("issuing %q: no CA named", spec.ID)
	}
	ca, err := k.Get(ctx, spec.CA)
	if err != nil {
		return nil, fmt.Errorf("issuing %q: %w", spec.ID, err)
	}
	return NewKeypair(spec, ca, k.now(), k.rand)
}
