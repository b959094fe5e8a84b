package machine

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultAccountID is moto's default account, used when
// [Instance.AccountID] is empty.
const DefaultAccountID = "123456789012"

// Instance holds the facts of the EC2 instance a machine plays: what its
// metadata service answers and what it boots with. The caller fills it,
// for example from moto's DescribeInstances.
type Instance struct {
	// ID is the instance ID, e.g. i-0123456789abcdef0. Required.
	ID string
	// Region and AvailabilityZone, e.g. us-east-1 and us-east-1a. Required.
	Region           string
	AvailabilityZone string
	// PrivateIP is the instance's address with its subnet's prefix
	// length, e.g. 10.0.1.23/24. It must lie in the network's CIDR.
	// Required.
	PrivateIP netip.Prefix
	// AccountID; default [DefaultAccountID].
	AccountID string
	// InstanceType, ImageID, SubnetID and VPCID are only reported.
	InstanceType string
	ImageID      string
	SubnetID     string
	VPCID        string
	// Hostname is the machine's host name and the metadata's
	// local-hostname; default ip-A-B-C-D.ec2.internal in us-east-1 and
	// ip-A-B-C-D.REGION.compute.internal elsewhere, as on EC2.
	Hostname string
	// UserData is the instance's user-data, decoded, exactly as moto
	// stores it. The machine runs it once at boot if it is a script
	// ("#!", optionally gzipped), as cloud-init does.
	UserData []byte
	// Role is the instance profile's role name; empty means no instance
	// profile (iam/ is then absent from the metadata).
	Role string
	// InstanceProfileARN is reported in iam/info; default
	// arn:aws:iam::ACCOUNT:instance-profile/ROLE.
	InstanceProfileARN string
	// Credentials are what iam/security-credentials/ROLE returns; default
	// test/test/test, which moto accepts.
	Credentials Credentials
}

// Credentials are static instance-profile credentials.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Token           string
}

// withDefaults returns a copy of in with the defaults filled in.
func (in Instance) withDefaults() Instance {
	if in.AccountID == "" {
		in.AccountID = DefaultAccountID
	}
	if in.Hostname == "" && in.PrivateIP.IsValid() {
		base := "ip-" + strings.ReplaceAll(in.PrivateIP.Addr().String(), ".", "-")
		if in.Region == "us-east-1" {
			in.Hostname = base + ".ec2.internal"
		} else {
			in.Hostname = base + "." + in.Region + ".compute.internal"
		}
	}
	if in.Role != "" && in.InstanceProfileARN == "" {
		in.InstanceProfileARN = "arn:aws:iam::" + in.AccountID + ":instance-profile/" + in.Role
	}
	if in.Credentials == (Credentials{}) {
		in.Credentials = Credentials{AccessKeyID: "test", SecretAccessKey: "test", Token: "test"}
	}
	return in
}

// validate checks the required facts, naming each missing one.
func (in Instance) validate() error {
	var errs []error
	if in.ID == "" {
		errs = append(errs, errors.New("ID: required"))
	}
	if in.Region == "" {
		errs = append(errs, errors.New("Region: required"))
	}
	if in.AvailabilityZone == "" {
		errs = append(errs, errors.New("AvailabilityZone: required"))
	}
	if !in.PrivateIP.IsValid() || !in.PrivateIP.Addr().Is4() {
		errs = append(errs, fmt.Errorf("PrivateIP: %q is not an IPv4 address with a prefix length", in.PrivateIP))
	}
	if strings.ContainsAny(in.Hostname, " \t\n/") {
		errs = append(errs, fmt.Errorf("Hostname: %q is not a host name", in.Hostname))
	}
	return errors.Join(errs...)
}
