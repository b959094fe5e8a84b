package aws

import "github.com/kapstan/kapstan/internal/engine"

// KeyPair is the SSH public key installed on instances.
type KeyPair struct {
	Name      string
	KeyName   string
	ID        string
	PublicKey string
	// Fingerprint is AWS's MD5 fingerprint of the public key, which is how
	// a changed key is noticed (AWS does not return the key itself).
	Fingerprint string
	Tags        Tags
}

func (r *KeyPair) Address() engine.Address        { return engine.Address{Kind: KindKeyPair, Name: r.Name} }
func (r *KeyPair) Dependencies() []engine.Address { return nil }
func (r *KeyPair) CloudID() string                { return r.KeyName }
