package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kapstan/kapstan/internal/engine"
)

// InstanceProfile carries a role to instances. It holds exactly one role.
// Like a role, its address name is its IAM name; profiles cannot carry
// tags on moto (HTTP 500), so the path /kapstan/CLUSTER/ marks them.
type InstanceProfile struct {
	Name        string
	ProfileName string
	Role        engine.Ref
	ARN         string
}

// Address implements engine.Resource.
func (r *InstanceProfile) Address() engine.Address {
	return engine.Address{Kind: KindInstanceProfile, Name: r.Name}
}

// Dependencies implements engine.Resource.
func (r *InstanceProfile) Dependencies() []engine.Address { return deps(r.Role) }

// CloudID implements engine.Identified: launch templates name the profile.
func (r *InstanceProfile) CloudID() string { return r.ProfileName }

// Diff implements engine.Resource. The role can be swapped in place.
func (r *InstanceProfile) Diff(actual engine.Resource, refs engine.Refs) []engine.FieldDiff {
	a := actual.(*InstanceProfile)
	var d engine.Differ
	d.Immutable("profileName", a.ProfileName, r.ProfileName)
	d.Ref("role", a.Role.ID, r.Role, refs, false)
	return d.Diffs()
}

// securityProfiles lists the instance profiles that hold the cluster's
// roles, from the plan's one read of IAM (see iamRoleDetails), each once.
// A profile kapstan made but could not yet give its role is not among
// them; create finds it (EntityAlreadyExists) and finishes it.
func (c *Cloud) securityProfiles(ctx context.Context) ([]iamtypes.InstanceProfile, error) {
	details, err := c.iamRoleDetails(ctx)
	if err != nil {
		return nil, err
	}
	var out []iamtypes.InstanceProfile
	seen := map[string]bool{}
	for _, d := range details {
		for _, ip := range d.InstanceProfileList {
			name := aws.ToString(ip.InstanceProfileName)
			if aws.ToString(ip.Path) == IAMPath(c.Cluster) && !seen[name] {
				seen[name] = true
				out = append(out, ip)
			}
		}
	}
	return out, nil
}

// securityProfileFrom converts a listed profile to an actual resource. Its
// role has an address when the role is the cluster's (same path).
func securityProfileFrom(cluster string, ip iamtypes.InstanceProfile) *InstanceProfile {
	name := aws.ToString(ip.InstanceProfileName)
	a := &InstanceProfile{Name: name, ProfileName: name, ARN: aws.ToString(ip.Arn)}
	if len(ip.Roles) > 0 {
		role := ip.Roles[0]
		a.Role = engine.RefID(aws.ToString(role.RoleName))
		if aws.ToString(role.Path) == IAMPath(cluster) {
			a.Role = securityRoleRef(aws.ToString(role.RoleName))
		}
	}
	return a
}

func (r *InstanceProfile) find(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	if r.Name != r.ProfileName {
		return nil, securityNameError(r.Address(), r.ProfileName)
	}
	profiles, err := c.securityProfiles(ctx)
	if err != nil {
		return nil, err
	}
	for _, ip := range profiles {
		if aws.ToString(ip.InstanceProfileName) == r.ProfileName {
			a := securityProfileFrom(c.Cluster, ip)
			a.Name = r.Name
			return a, nil
		}
	}
	return nil, nil
}

// create makes the profile and puts the role in it. The profile is made
// without tags: IAM accepts them, but moto 5 answers HTTP 500 to tags on
// instance profiles, and the cluster's IAM path already marks the profile
// as the cluster's. A retry after the role could not be added (a role made
// a moment ago may not be visible yet) finds the profile already made and
// goes on.
func (r *InstanceProfile) create(ctx context.Context, c *Cloud, refs engine.Refs) (engine.Resource, error) {
	role := engine.ResolveID(refs, r.Role)
	if role == "" {
		return nil, fmt.Errorf("creating instance profile %s: role %s not created yet", r.Name, r.Role)
	}
	a := &InstanceProfile{Name: r.Name, ProfileName: r.ProfileName}
	out, err := c.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String(r.ProfileName),
		Path:                aws.String(IAMPath(c.Cluster)),
	})
	switch {
	case err == nil:
		a.ARN = aws.ToString(out.InstanceProfile.Arn)
	case hasCode(err, "EntityAlreadyExists"):
		got, gerr := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(r.ProfileName)})
		if gerr != nil {
			return nil, fmt.Errorf("creating instance profile %s: %w", r.Name, gerr)
		}
		if p := aws.ToString(got.InstanceProfile.Path); p != IAMPath(c.Cluster) {
			return nil, fmt.Errorf("creating instance profile %s: a profile of that name exists outside the cluster, with path %s: %w", r.Name, p, err)
		}
		prev := securityProfileFrom(c.Cluster, *got.InstanceProfile)
		a.ARN = prev.ARN
		if prev.Role.ID == role {
			a.Role = engine.Ref{Addr: r.Role.Addr, ID: role}
			return a, nil
		}
		if prev.Role.ID != "" {
			return r.update(ctx, c, prev, nil, refs)
		}
	default:
		return nil, fmt.Errorf("creating instance profile %s: %w", r.Name, err)
	}
	if err := securityAddRole(ctx, c, r.ProfileName, role); err != nil {
		return nil, fmt.Errorf("creating instance profile %s: %w", r.Name, err)
	}
	a.Role = engine.Ref{Addr: r.Role.Addr, ID: role}
	return a, nil
}

// securityAddRole puts a role in a profile; NoSuchEntity right after the
// role or profile was made is IAM's eventual consistency, so retried.
func securityAddRole(ctx context.Context, c *Cloud, profile, role string) error {
	_, err := c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
		InstanceProfileName: aws.String(profile),
		RoleName:            aws.String(role),
	})
	if err != nil {
		if isNotFound(err) {
			err = engine.Retryable(err)
		}
		return fmt.Errorf("adding role %s: %w", role, err)
	}
	return nil
}

// update swaps the role: a profile holds one role, so the old one goes
// out before the new one comes in.
func (r *InstanceProfile) update(ctx context.Context, c *Cloud, actual engine.Resource, diffs []engine.FieldDiff, refs engine.Refs) (engine.Resource, error) {
	a := *actual.(*InstanceProfile)
	role := engine.ResolveID(refs, r.Role)
	if role == "" {
		return nil, fmt.Errorf("updating instance profile %s: role %s not created yet", r.Name, r.Role)
	}
	if a.Role.ID != "" {
		_, err := c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
			InstanceProfileName: aws.String(a.ProfileName),
			RoleName:            aws.String(a.Role.ID),
		})
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("updating instance profile %s: removing role %s: %w", r.Name, a.Role.ID, err)
		}
		a.Role = engine.Ref{}
	}
	if err := securityAddRole(ctx, c, a.ProfileName, role); err != nil {
		return nil, fmt.Errorf("updating instance profile %s: %w", r.Name, err)
	}
	a.Name = r.Name
	a.Role = engine.Ref{Addr: r.Role.Addr, ID: role}
	return &a, nil
}

// delete takes the role out of the profile, which IAM requires, then
// deletes the profile.
func (r *InstanceProfile) delete(ctx context.Context, c *Cloud) error {
	if r.Role.ID != "" {
		_, err := c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
			InstanceProfileName: aws.String(r.ProfileName),
			RoleName:            aws.String(r.Role.ID),
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("deleting instance profile %s: removing role %s: %w", r.Name, r.Role.ID, err)
		}
	}
	_, err := c.IAM.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(r.ProfileName)})
	return deleteResult(err, "instance profile "+r.Name)
}

// ownedInstanceProfiles lists the profiles under the cluster's IAM path.
func (c *Cloud) ownedInstanceProfiles(ctx context.Context) ([]engine.Resource, error) {
	profiles, err := c.securityProfiles(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engine.Resource, 0, len(profiles))
	for _, ip := range profiles {
		out = append(out, securityProfileFrom(c.Cluster, ip))
	}
	return out, nil
}
