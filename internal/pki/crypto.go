// Package pki makes and keeps a cluster's certificate authorities, keys and
// certificates.
//
// The pure part (this file) generates ECDSA P-256 keys and signs X.509
// certificates from a [Spec]; it does no I/O. [Keystore] keeps keypairs in
// the state store:
//
//	NAME/pki/issued/ID.crt    the certificate, PEM, public
//	NAME/pki/private/ID.key   the private key, PEM (PKCS #8), written with
//	                          store.Secret(): mode 0600 in a file store,
//	                          encrypted at rest (SSE-S3) in an S3 store
//
// [Ensure] creates every keypair a cluster needs ([ClusterSpecs]) on the
// first `update` and afterwards only fills gaps: a CA or a private key is
// never replaced, and a leaf certificate is re-signed (with its existing
// key) only when it lacks a name it must carry, e.g. the API load
// balancer's DNS name once the cloud knows it.
//
// Private keys never leave this package as plain strings: they are
// [PrivateKeyPEM] values, which print as "[redacted]" with every fmt verb,
// so a key cannot end up in a log line, a plan or `get` output by accident.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Usage says what a leaf certificate is for.
type Usage int

// Usages; they combine with |.
const (
	// UsageServer is TLS server authentication.
	UsageServer Usage = 1 << iota
	// UsageClient is TLS client authentication.
	UsageClient
)

// String is e.g. "server,client".
func (u Usage) String() string {
	var s []string
	if u&UsageServer != 0 {
		s = append(s, "server")
	}
	if u&UsageClient != 0 {
		s = append(s, "client")
	}
	return strings.Join(s, ",")
}

// Lifetimes of what Ensure creates. A CA outlives every certificate it
// signs; leaf certificates are renewed by rotating them (not automatic yet).
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 2 * 365 * 24 * time.Hour
	// backdate is subtracted from "now" for NotBefore, so a certificate is
	// valid on a machine whose clock is a little behind.
	backdate = time.Hour
)

// Spec says what one keypair must be.
type Spec struct {
	// ID names the keypair in the keystore, e.g. "kubernetes-ca".
	ID string
	// CA is the ID of the CA that signs it; empty for a self-signed
	// certificate (a CA, or the service-account key's holder).
	CA string
	// IsCA makes a certificate authority.
	IsCA bool
	// CommonName and Organization are the subject. Kubernetes reads a
	// client certificate's CN as the user name and its O as groups.
	CommonName   string
	Organization []string
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	// Usage is what a leaf is for; ignored for a CA.
	Usage Usage
	// Lifetime is how long the certificate is valid; 0 means CALifetime
	// for a CA and LeafLifetime otherwise.
	Lifetime time.Duration
}

func (s Spec) lifetime() time.Duration {
	switch {
	case s.Lifetime > 0:
		return s.Lifetime
	case s.IsCA:
		return CALifetime
	default:
		return LeafLifetime
	}
}

// PrivateKeyPEM is a PEM-encoded private key. Every fmt verb prints it as
// "[redacted]"; use string(k) where the key itself must be written (a file
// on the node, the node configuration in the state store).
type PrivateKeyPEM string

// Format implements fmt.Formatter so that %s, %v, %q, %x and %#v all hide
// the key.
func (PrivateKeyPEM) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// Keypair is a certificate and, when it was loaded or made, its private key.
type Keypair struct {
	// ID is the keypair's name in the keystore.
	ID string
	// Cert is the certificate.
	Cert *x509.Certificate
	key  crypto.Signer
}

// Format implements fmt.Formatter: a keypair prints as its ID and the
// certificate's expiry, never its key.
func (k *Keypair) Format(f fmt.State, _ rune) {
	if k == nil || k.Cert == nil {
		_, _ = io.WriteString(f, "keypair <nil>")
		return
	}
	_, _ = fmt.Fprintf(f, "keypair %s (expires %s)", k.ID, k.Cert.NotAfter.UTC().Format(time.RFC3339))
}

// Signer is the private key, or nil when only the certificate was loaded.
func (k *Keypair) Signer() crypto.Signer { return k.key }

// CertificatePEM is the certificate in PEM.
func (k *Keypair) CertificatePEM() []byte { return EncodeCertificate(k.Cert) }

// PrivateKeyPEM is the private key in PEM (PKCS #8).
func (k *Keypair) PrivateKeyPEM() (PrivateKeyPEM, error) {
	if k.key == nil {
		return "", fmt.Errorf("keypair %q: private key not loaded", k.ID)
	}
	return EncodePrivateKey(k.key)
}

// PublicKeyPEM is the public key in PEM (PKIX), as the apiserver's
// --service-account-key-file wants it.
func (k *Keypair) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Cert.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("keypair %q: encoding the public key: %w", k.ID, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// NewPrivateKey makes an ECDSA P-256 key: small, fast to make, and accepted
// by etcd, the apiserver (serving, clients, service-account tokens as
// ES256) and the kubelet.
func NewPrivateKey(random io.Reader) (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("generating a private key: %w", err)
	}
	return k, nil
}

// Sign makes the certificate spec describes for the public key pub. ca
// signs it; a nil ca means self-signed, in which case signer must be the
// private key of pub. now is the issue time.
func Sign(spec Spec, pub crypto.PublicKey, signer crypto.Signer, ca *Keypair, now time.Time, random io.Reader) (*x509.Certificate, error) {
	serial, err := randSerial(random)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", spec.ID, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: slices.Clone(spec.Organization)},
		NotBefore:    now.Add(-backdate).UTC(),
		NotAfter:     now.Add(spec.lifetime()).UTC(),
		DNSNames:     slices.Clone(spec.DNSNames),
		IPAddresses:  slices.Clone(spec.IPs),
	}
	if spec.IsCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = extKeyUsages(spec.Usage)
	}
	parent, parentKey := tmpl, signer
	if ca != nil {
		if ca.key == nil {
			return nil, fmt.Errorf("certificate %q: the private key of CA %q is not loaded", spec.ID, ca.ID)
		}
		parent, parentKey = ca.Cert, ca.key
	}
	der, err := x509.CreateCertificate(random, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", spec.ID, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: parsing what was signed: %w", spec.ID, err)
	}
	return cert, nil
}

func extKeyUsages(u Usage) []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	if u&UsageServer != 0 {
		out = append(out, x509.ExtKeyUsageServerAuth)
	}
	if u&UsageClient != 0 {
		out = append(out, x509.ExtKeyUsageClientAuth)
	}
	return out
}

func randSerial(random io.Reader) (*big.Int, error) {
	n, err := cryptorand.Int(random, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("making a serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never 0
}

// NewKeypair makes a key and the certificate spec describes, signed by ca
// (nil: self-signed).
func NewKeypair(spec Spec, ca *Keypair, now time.Time, random io.Reader) (*Keypair, error) {
	key, err := NewPrivateKey(random)
	if err != nil {
		return nil, fmt.Errorf("keypair %q: %w", spec.ID, err)
	}
	cert, err := Sign(spec, key.Public(), key, ca, now, random)
	if err != nil {
		return nil, err
	}
	return &Keypair{ID: spec.ID, Cert: cert, key: key}, nil
}

// EncodeCertificate is cert in PEM.
func EncodeCertificate(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// EncodePrivateKey is key in PEM (PKCS #8).
func EncodePrivateKey(key crypto.Signer) (PrivateKeyPEM, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encoding a private key: %w", err)
	}
	return PrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParseCertificate reads one PEM certificate.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("data after the certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate: %w", err)
	}
	return cert, nil
}

// ParsePrivateKey reads one PEM private key: PKCS #8, or the older
// "EC PRIVATE KEY" and "RSA PRIVATE KEY" forms. The error never quotes the
// data.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T cannot sign", key)
	}
	return signer, nil
}

// samePublicKey reports whether key is the private half of cert's key.
func samePublicKey(cert *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// covers reports whether cert says everything spec asks for: the same
// subject and usage, and at least spec's names (more is fine, so a name
// once added is not dropped and re-added as callers learn it). The reason
// says what is missing.
func covers(cert *x509.Certificate, spec Spec) (bool, string) {
	if cert.Subject.CommonName != spec.CommonName || !slices.Equal(cert.Subject.Organization, spec.Organization) {
		return false, fmt.Sprintf("subject is %q, want CN=%s O=%v", cert.Subject.String(), spec.CommonName, spec.Organization)
	}
	if cert.IsCA != spec.IsCA {
		return false, "CA flag differs"
	}
	if !spec.IsCA && !slices.Equal(cert.ExtKeyUsage, extKeyUsages(spec.Usage)) {
		return false, "usage differs, want " + spec.Usage.String()
	}
	var missing []string
	for _, n := range spec.DNSNames {
		if !slices.Contains(cert.DNSNames, n) {
			missing = append(missing, n)
		}
	}
	for _, ip := range spec.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			missing = append(missing, ip.String())
		}
	}
	if len(missing) > 0 {
		return false, "lacks " + strings.Join(missing, ", ")
	}
	return true, ""
}
