package pki

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kapstan/kapstan/internal/store"
)

// Secrets are a cluster's secret values that are not keypairs, kept at
// NAME/secrets/ID with store.Secret(). Their values are
// [SecretValue]s, which print as "[redacted]".
type Secrets struct {
	store   store.Store
	cluster string
}

// NewSecrets returns the secrets of cluster in s.
func NewSecrets(s store.Store, cluster string) *Secrets { return &Secrets{store: s, cluster: cluster} }

// SecretKey is the store key of a secret.
func SecretKey(cluster, id string) string { return cluster + "/secrets/" + id }

// SecretValue is a secret's content; every fmt verb prints it as
// "[redacted]".
type SecretValue []byte

// Format implements fmt.Formatter.
func (SecretValue) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// Fingerprint identifies the value without revealing it: the first 8
// bytes of its SHA-256, in hex.
func (v SecretValue) Fingerprint() string {
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:8])
}

// SecretString is a secret in text form, as a node configuration carries
// it; every fmt verb prints it as "[redacted]".
type SecretString string

// Format implements fmt.Formatter.
func (SecretString) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// ErrSecretNotFound is wrapped by errors for a secret the store lacks.
var ErrSecretNotFound = errors.New("secret not found")

// Get returns a secret's value.
func (s *Secrets) Get(ctx context.Context, id string) (SecretValue, error) {
	key := SecretKey(s.cluster, id)
	obj, err := s.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("secret %q of cluster %q: %w", id, s.cluster, ErrSecretNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %q: %w", id, err)
	}
	return SecretValue(obj.Data), nil
}

// List returns the IDs of the stored secrets, sorted.
func (s *Secrets) List(ctx context.Context) ([]string, error) {
	prefix := SecretKey(s.cluster, "")
	keys, err := s.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing secrets of cluster %q: %w", s.cluster, err)
	}
	var ids []string
	for _, k := range keys {
		if id := strings.TrimPrefix(k, prefix); !strings.Contains(id, "/") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ensure creates a secret with make's value unless it exists. It reports
// whether it created it.
func (s *Secrets) ensure(ctx context.Context, id string, make func() ([]byte, error)) (bool, error) {
	if _, err := s.Get(ctx, id); err == nil {
		return false, nil
	} else if !errors.Is(err, ErrSecretNotFound) {
		return false, err
	}
	v, err := make()
	if err != nil {
		return false, fmt.Errorf("secret %q: %w", id, err)
	}
	if _, err := s.store.Put(ctx, SecretKey(s.cluster, id), v, store.IfAbsent(), store.Secret()); err != nil {
		return false, fmt.Errorf("writing secret %q: %w", id, err)
	}
	return true, nil
}

// EncryptionKey is the secret that encrypts Kubernetes Secrets in etcd: 32
// random bytes, base64, as the apiserver's secretbox provider wants them.
const EncryptionKey = "encryption-key"

// newEncryptionKey makes the value of EncryptionKey.
func newEncryptionKey() ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(raw)), nil
}
