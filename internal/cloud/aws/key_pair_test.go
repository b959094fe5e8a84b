package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// Test keys made with ssh-keygen; their fingerprints below come from
// openssl (RSA: `ssh-keygen -e -m PKCS8 -f k.pub | openssl pkey -pubin
// -outform DER | openssl md5 -c`) and ssh-keygen -l (ED25519), not from
// the code under test.
const (
	testRSAKey1   = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDSijbUsgWLkSmVk2y1EtrG8ZkcOqgA9knR2V0DVHFRbgy0hisrX/bJqJoK7y6tAAqy6Eon4vC7gEJWzb7H8RwR6jnmv/eGUXIbvDLnm4aeRJa3HtBd2WxQQ6Qd50I2a6W+0Zhysi9R5PG/SDU31Y1dAI7SBVl1ZPQVNg02Rla6Xw== test"
	testRSAKey1FP = "be:96:7b:c7:34:e7:16:89:4d:bd:7c:95:ce:e5:cc:2b"
	testRSAKey2   = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDruVygZybbpWoCzr887tny6g/1/cxy+pMHo9IwZ3ejIZco5P57OynXjn2aj4gZlnd/2Kbz3VnwRmZsry9rQ+J5Wu3UVDtIApmCllwpSw1t/qtqu6TsUyWzyw3JYF3xTLCRj4f7nS/xbK94/YTr/ISQpaYqCzLReVuOPRqhCvSgjw== second"
	testRSAKey2FP = "7e:9f:06:b6:ae:fe:fc:3b:ba:b7:0a:48:a3:e5:d0:1a"
	testED25519   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM64PKoEaGxdgMzNHQITmw9v9C+KDkZwez7grHAoMsQZ test"
	// ssh-keygen -l shows SHA256:CSS9l8cqHhMeOGTUihslEvbsv6ezJyY6v0x+IlnlPvg;
	// AWS drops the prefix and pads.
	testED25519FP = "CSS9l8cqHhMeOGTUihslEvbsv6ezJyY6v0x+IlnlPvg="
	testECDSA     = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDZBQ+bN9qWJkdw2zRgHbuTtnJYAiBHav+VOQ4VKrKhCYHCycncdNf7GUfMzUjhMbMhoyLrYYsu4htcp6eidYko= test"
)

func TestKeyFingerprint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, want, wantErr string
	}{
		{name: "rsa", key: testRSAKey1, want: testRSAKey1FP},
		{name: "another rsa", key: testRSAKey2, want: testRSAKey2FP},
		{name: "rsa without comment", key: strings.TrimSuffix(testRSAKey1, " test"), want: testRSAKey1FP},
		{name: "ed25519", key: testED25519, want: testED25519FP},
		{name: "ecdsa is not imported by EC2", key: testECDSA, wantErr: "EC2 imports only RSA and ED25519"},
		{name: "garbage", key: "ssh-rsa not-base64", wantErr: "parsing SSH public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeyFingerprint(tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func testKeyPair(t *testing.T, c *Cloud, name, publicKey string) *KeyPair {
	t.Helper()
	fp, err := KeyFingerprint(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &KeyPair{
		Name:        name,
		KeyName:     "kapstan-" + c.Cluster + "-" + name,
		PublicKey:   publicKey,
		Fingerprint: fp,
		Tags:        OwnedTags(c.Cluster, engine.Address{Kind: KindKeyPair, Name: name}, "", nil),
	}
}

func TestKeyPairLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, counter := testCloud(t)
	admin, ops := testKeyPair(t, c, "admin", testRSAKey1), testKeyPair(t, c, "ops", testRSAKey1)

	converge(t, c, admin, ops)
	assertInSync(t, c, counter, admin, ops)
	if n := counter.Calls()["EC2.DescribeKeyPairs"]; n != 1 {
		t.Errorf("a plan of 2 key pairs made %d DescribeKeyPairs calls, want 1", n)
	}

	// describe returns the key pair by name as AWS has it.
	describe := func(t *testing.T, name string) []ec2types.KeyPairInfo {
		t.Helper()
		out, err := c.EC2.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{
			Filters: []ec2types.Filter{{Name: aws.String("key-name"), Values: []string{name}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyPairs
	}

	t.Run("a new key replaces the key pair", func(t *testing.T) {
		changed := testKeyPair(t, c, "admin", testRSAKey2)
		securityAssertChanges(t, planOf(t, c, changed, ops), "update KeyPair/admin: fingerprint")
		converge(t, c, changed, ops)
		assertInSync(t, c, counter, changed, ops)
		if got := describe(t, admin.KeyName); len(got) != 1 || aws.ToString(got[0].KeyFingerprint) != testRSAKey2FP {
			t.Errorf("key pair %s: got %+v, want one with fingerprint %s", admin.KeyName, got, testRSAKey2FP)
		}
		admin = changed
	})

	t.Run("tags change in place", func(t *testing.T) {
		changed := *ops
		changed.Tags = mergeTags(ops.Tags, Tags{"team": "infra"})
		securityAssertChanges(t, planOf(t, c, admin, &changed), "update KeyPair/ops: tags[team]")
		converge(t, c, admin, &changed)
		assertInSync(t, c, counter, admin, &changed)
		ops = &changed
	})

	t.Run("key name cannot change", func(t *testing.T) {
		changed := *ops
		changed.KeyName = "other"
		got := securityReplacement(t, c, admin, &changed)
		if len(got) != 1 || got[0] != "KeyPair/ops: keyName" {
			t.Errorf("refused fields: got %v, want [KeyPair/ops: keyName]", got)
		}
	})

	t.Run("orphan is deleted", func(t *testing.T) {
		securityAssertChanges(t, planOf(t, c, admin), "delete KeyPair/ops")
		converge(t, c, admin)
		assertInSync(t, c, counter, admin)
		if got := describe(t, ops.KeyName); len(got) != 0 {
			t.Errorf("key pair %s still exists: %+v", ops.KeyName, got)
		}
	})
}

// TestKeyPairInvalidKeyIsRefusedLocally checks that bad key material never
// reaches EC2: moto answers it with HTTP 500 (AWS: InvalidKey.Format). The
// fake has no ImportKeyPair, so a call would panic.
func TestKeyPairInvalidKeyIsRefusedLocally(t *testing.T) {
	t.Parallel()
	c := New(Clients{EC2: &fakeSecurityEC2{}}, "test.k8s.local", "us-east-1")
	k := &KeyPair{Name: "admin", KeyName: "admin", PublicKey: "ssh-rsa AAAA-not-a-key"}
	if _, err := k.create(context.Background(), c, securityRefs{}); err == nil || !strings.Contains(err.Error(), "parsing SSH public key") {
		t.Errorf("create: got %v, want a parse error", err)
	}
}

// TestKeyPairDiffComputesFingerprint checks that a desired key pair without
// a Fingerprint is compared by its public key's.
func TestKeyPairDiffComputesFingerprint(t *testing.T) {
	t.Parallel()
	desired := &KeyPair{Name: "admin", KeyName: "admin", PublicKey: testRSAKey1}
	tests := []struct {
		name  string
		fp    string
		diffs int
	}{
		{"same key", testRSAKey1FP, 0},
		{"other key", testRSAKey2FP, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := desired.Diff(&KeyPair{Name: "admin", KeyName: "admin", Fingerprint: tt.fp}, securityRefs{})
			if len(got) != tt.diffs {
				t.Errorf("diffs %v, want %d", got, tt.diffs)
			}
		})
	}
}
