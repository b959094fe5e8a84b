package aws

import (
	"context"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/kapstan/kapstan/internal/engine"
)

// keyPairAPI is the EC2 calls for key pairs.
type keyPairAPI interface {
	DescribeKeyPairs(ctx context.Context, params *ec2.DescribeKeyPairsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeKeyPairsOutput, error)
	ImportKeyPair(ctx context.Context, params *ec2.ImportKeyPairInput, optFns ...func(*ec2.Options)) (*ec2.ImportKeyPairOutput, error)
	DeleteKeyPair(ctx context.Context, params *ec2.DeleteKeyPairInput, optFns ...func(*ec2.Options)) (*ec2.DeleteKeyPairOutput, error)
	CreateTags(ctx context.Context, params *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
}

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

// Address implements engine.Resource.
func (r *KeyPair) Address() engine.Address { return engine.Address{Kind: KindKeyPair, Name: r.Name} }

// Dependencies implements engine.Resource.
func (r *KeyPair) Dependencies() []engine.Address { return nil }

// CloudID implements engine.Identified: launch templates name the key.
func (r *KeyPair) CloudID() string { return r.KeyName }

// KeyFingerprint returns the fingerprint AWS reports for an imported
// OpenSSH public key ("ssh-rsa AAAA... comment"), for the model to fill
// KeyPair.Fingerprint. For RSA, AWS does not use OpenSSH's MD5 of the key
// blob (as its API reference says) but the MD5 of the DER (PKIX) encoding
// of the public key, as colon-separated hex; moto 5 agrees. For ED25519 it
// is the base64 SHA-256 of the key blob, as OpenSSH shows it but padded
// and without the "SHA256:" prefix. moto 5 gets ED25519 wrong (colon-hex
// SHA-256 of the DER encoding), so on moto an ED25519 key pair never
// converges; TestKeyFingerprint checks AWS's form against ssh-keygen.
func KeyFingerprint(publicKey string) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(publicKey))
	if err != nil {
		return "", fmt.Errorf("parsing SSH public key: %w", err)
	}
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		rsaKey, ok := pub.(ssh.CryptoPublicKey).CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return "", fmt.Errorf("SSH key of type %s is not RSA", pub.Type())
		}
		der, err := x509.MarshalPKIXPublicKey(rsaKey)
		if err != nil {
			return "", fmt.Errorf("encoding SSH public key: %w", err)
		}
		sum := md5.Sum(der)
		h := hex.EncodeToString(sum[:])
		pairs := make([]string, 0, len(sum))
		for i := 0; i < len(h); i += 2 {
			pairs = append(pairs, h[i:i+2])
		}
		return strings.Join(pairs, ":"), nil
	case ssh.KeyAlgoED25519:
		sum := sha256.Sum256(pub.Marshal())
		return base64.StdEncoding.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("SSH key of type %s: EC2 imports only RSA and ED25519 keys", pub.Type())
}

// fingerprint is the desired fingerprint: the one given, or else the one
// of the public key.
func (r *KeyPair) fingerprint() string {
	if r.Fingerprint != "" || r.PublicKey == "" {
		return r.Fingerprint
	}
	fp, err := KeyFingerprint(r.PublicKey)
	if err != nil {
		return "(invalid key: " + err.Error() + ")"
	}
	return fp
}

// Diff implements engine.Resource. A new key under the same name shows as
// a new fingerprint; update replaces the key pair.
func (r *KeyPair) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*KeyPair)
	var d engine.Differ
	d.Immutable("keyName", a.KeyName, r.KeyName)
	d.String("fingerprint", a.Fingerprint, r.fingerprint())
	d.Tags(a.Tags, r.Tags)
	return d.Diffs()
}

// securityKeyPairsKey caches the plan's one DescribeKeyPairs.
const securityKeyPairsKey = "security/keyPairs"

// securityKeyPairs lists the key pairs this cluster made, in one
// DescribeKeyPairs (not paginated by AWS) filtered by the cluster's tags.
func (c *Cloud) securityKeyPairs(ctx context.Context) ([]ec2types.KeyPairInfo, error) {
	return cached(ctx, c, securityKeyPairsKey, func(ctx context.Context) ([]ec2types.KeyPairInfo, error) {
		out, err := c.EC2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{Filters: c.ownedFilters(KindKeyPair)})
		if err != nil {
			return nil, fmt.Errorf("listing key pairs: %w", err)
		}
		return out.KeyPairs, nil
	})
}

// securityKeyPairFrom converts a described key pair to an actual resource.
func securityKeyPairFrom(addr engine.Address, k ec2types.KeyPairInfo) *KeyPair {
	return &KeyPair{
		Name:        addr.Name,
		KeyName:     aws.ToString(k.KeyName),
		ID:          aws.ToString(k.KeyPairId),
		Fingerprint: aws.ToString(k.KeyFingerprint),
		Tags:        fromEC2Tags(k.Tags),
	}
}

func (r *KeyPair) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	keys, err := c.securityKeyPairs(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if addr, ok := addressOf(KindKeyPair, fromEC2Tags(k.Tags)); ok && addr == r.Address() {
			return securityKeyPairFrom(addr, k), nil
		}
	}
	return nil, nil
}

// create imports the public key, tagged. The key is checked here first:
// AWS answers bad key material with InvalidKey.Format, but moto 5 answers
// HTTP 500, which the SDK retries and then reports as a server fault.
func (r *KeyPair) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if _, err := KeyFingerprint(r.PublicKey); err != nil {
		return nil, fmt.Errorf("importing key pair %s: %w", r.Name, err)
	}
	out, err := c.EC2.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{
		KeyName:           aws.String(r.KeyName),
		PublicKeyMaterial: []byte(r.PublicKey),
		TagSpecifications: ec2TagSpec(ec2types.ResourceTypeKeyPair, r.Tags),
	})
	if err != nil {
		return nil, fmt.Errorf("importing key pair %s: %w", r.Name, err)
	}
	return &KeyPair{
		Name:        r.Name,
		KeyName:     aws.ToString(out.KeyName),
		ID:          aws.ToString(out.KeyPairId),
		PublicKey:   r.PublicKey,
		Fingerprint: aws.ToString(out.KeyFingerprint),
		Tags:        r.Tags,
	}, nil
}

// update replaces the key pair when the key changed (EC2 cannot change a
// key pair's key) and otherwise adds tags. Instances already running keep
// the old key; new ones get the new one.
func (r *KeyPair) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := actual.(*KeyPair)
	if securityHasDiff(diffs, "fingerprint") {
		if _, err := KeyFingerprint(r.PublicKey); err != nil {
			return nil, fmt.Errorf("replacing key pair %s: %w", r.Name, err)
		}
		if err := a.delete(ctx, c); err != nil {
			return nil, fmt.Errorf("replacing key pair %s: %w", r.Name, err)
		}
		return r.create(ctx, c, refs)
	}
	n := *a
	if err := tagEC2(ctx, c, a.ID, a.Tags, r.Tags); err != nil {
		return nil, fmt.Errorf("tagging key pair %s: %w", r.Name, err)
	}
	n.Tags = mergeTags(a.Tags, r.Tags)
	return &n, nil
}

// delete removes the key pair. EC2 answers success for a key pair already
// gone. It goes by name, unique in a region, not by id: moto 5 ignores
// KeyPairId, deletes nothing and answers success.
func (r *KeyPair) delete(ctx context.Context, c *Cloud) error {
	_, err := c.EC2.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String(r.KeyName)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting key pair %s: %w", r.Name, err)
	}
	return nil
}

// ownedKeyPairs lists the key pairs carrying this cluster's address tag
// for the kind.
func (c *Cloud) ownedKeyPairs(ctx context.Context) ([]engine.Resource, error) {
	keys, err := c.securityKeyPairs(ctx)
	if err != nil {
		return nil, err
	}
	var out []engine.Resource
	for _, k := range keys {
		if addr, ok := addressOf(KindKeyPair, fromEC2Tags(k.Tags)); ok {
			out = append(out, securityKeyPairFrom(addr, k))
		}
	}
	return out, nil
}
