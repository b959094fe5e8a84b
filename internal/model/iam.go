package model

import (
	"encoding/json"
	"net/url"
	"strings"

	awscloud "github.com/kapstan/kapstan/internal/cloud/aws"
	"github.com/kapstan/kapstan/internal/engine"
	"github.com/kapstan/kapstan/internal/nodeup"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

// roleNames are the IAM entities of each role, by instance group role.
type roleNames map[api.InstanceGroupRole]engine.Ref

// shortRole is the name a role's IAM entities and security group use.
func shortRole(r api.InstanceGroupRole) string {
	switch r {
	case api.RoleControlPlane:
		return "control-plane"
	case api.RoleBastion:
		return "bastion"
	}
	return "nodes"
}

// iam builds, for each role the cluster's instance groups have, an IAM
// role with its inline policy and an instance profile.
func (b *builder) iam() roleNames {
	out := roleNames{}
	for _, role := range []api.InstanceGroupRole{api.RoleControlPlane, api.RoleNode, api.RoleBastion} {
		if !b.hasRole(role) {
			continue
		}
		name := limitName(dotted(shortRole(role), b.cluster), maxIAMName)
		addr := engine.Address{Kind: awscloud.KindIAMRole, Name: name}
		b.add(&awscloud.IAMRole{Name: name, RoleName: name, AssumeRolePolicy: assumeRolePolicy, Tags: b.tags(addr, name)})
		roleRef := engine.RefTo(awscloud.KindIAMRole, name)
		b.add(&awscloud.IAMRolePolicy{Name: awscloud.RolePolicyName(name, "kapstan"), Role: roleRef, PolicyName: "kapstan",
			Document: b.policy(role)})
		b.add(&awscloud.InstanceProfile{Name: name, ProfileName: name, Role: roleRef})
		out[role] = engine.RefTo(awscloud.KindInstanceProfile, name)
	}
	return out
}

const assumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

type statement struct {
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// policy is the least privilege a role's instances need:
//   - every node reads its instance group's node configuration from the
//     state store, and nothing else there (not the cluster's keys);
//   - every node reads the files of the cluster's asset mirror when it is
//     in S3 (the agent downloads them with the instance's credentials);
//   - the control plane runs the AWS cloud controller (describe, load
//     balancers for Services, routes, tags), attaches its etcd volumes
//     (only volumes tagged for this cluster) and updates the API records;
//   - nodes describe instances (kubelet's cloud lookups) and pull images
//     from ECR;
//   - a bastion needs nothing.
func (b *builder) policy(role api.InstanceGroupRole) string {
	clusterTag := "aws:ResourceTag/" + awscloud.TagKubernetesCluster
	var st []statement
	if role != api.RoleBastion {
		st = append(st, b.stateStoreRead(role)...)
		st = append(st, b.mirrorRead()...)
	}
	switch role {
	case api.RoleControlPlane:
		st = append(st,
			statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{
				"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeTags",
				"ec2:DescribeAvailabilityZones", "ec2:DescribeInstances", "ec2:DescribeRegions", "ec2:DescribeRouteTables",
				"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVolumes", "ec2:DescribeVpcs",
				"elasticloadbalancing:Describe*", "kms:DescribeKey",
			}},
			statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{
				"ec2:AttachVolume", "ec2:DetachVolume", "ec2:ModifyInstanceAttribute",
				"ec2:CreateRoute", "ec2:DeleteRoute", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
				"ec2:DeleteSecurityGroup", "ec2:DeleteVolume",
				"elasticloadbalancing:*",
			}, Condition: map[string]any{"StringEquals": map[string]string{clusterTag: b.cluster}}},
			statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{
				"ec2:CreateSecurityGroup", "ec2:CreateTags", "ec2:CreateVolume",
				"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:AddTags",
			}, Condition: map[string]any{"StringEquals": map[string]string{"aws:RequestTag/" + awscloud.TagKubernetesCluster: b.cluster}}},
		)
		if zone := b.m.Cluster.Spec.DNSZone; zone != "" {
			st = append(st, statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{
				"route53:ListHostedZones", "route53:ListHostedZonesByName", "route53:ListResourceRecordSets", "route53:GetChange",
			}}, statement{Effect: "Allow", Resource: []string{"arn:aws:route53:::hostedzone/*"}, Action: []string{
				"route53:ChangeResourceRecordSets",
			}})
		}
	case api.RoleNode:
		st = append(st, statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{
			"ec2:DescribeInstances", "ec2:DescribeRegions",
			"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
		}})
	case api.RoleBastion:
		st = append(st, statement{Effect: "Allow", Resource: []string{"*"}, Action: []string{"ec2:DescribeRegions"}})
	}
	out, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st})
	return string(out)
}

// stateStoreRead grants read access, in an S3 state store, to the node
// configurations (NAME/nodeup/IG) of the role's instance groups and to
// nothing else in the bucket: the cluster's private keys and spec are
// there too, and a node that could read the CA's key could mint any
// identity. A node configuration holds only what its role needs.
func (b *builder) stateStoreRead(role api.InstanceGroupRole) []statement {
	u, err := url.Parse(b.opts.StateStore)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	bucketARN := "arn:aws:s3:::" + u.Host
	var objects []string
	for _, ig := range b.m.InstanceGroups {
		if ig.Spec.Role == role {
			objects = append(objects, bucketARN+"/"+prefix+nodeup.ConfigKey(b.cluster, ig.Metadata.Name))
		}
	}
	if len(objects) == 0 {
		return nil
	}
	return []statement{
		{Effect: "Allow", Resource: objects, Action: []string{"s3:GetObject"}},
		{Effect: "Allow", Resource: []string{bucketARN}, Action: []string{"s3:GetBucketLocation"}},
	}
}

// mirrorRead grants read access to the objects of the cluster's file
// repository (the asset mirror) when it is in S3: machines download their
// files from there. By default that is the folder NAME/assets of the
// state store, which holds no secret: the keys and node configurations
// are elsewhere under NAME/. The node agent itself is fetched before any
// credentials are at hand, so its object must also be readable without
// them (see package bootstrap).
func (b *builder) mirrorRead() []statement {
	repo, err := b.m.Cluster.FileRepository(b.opts.StateStore)
	if err != nil {
		return nil
	}
	u, err := url.Parse(repo)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	bucketARN := "arn:aws:s3:::" + u.Host
	st := []statement{{Effect: "Allow", Resource: []string{bucketARN + "/" + prefix + "*"}, Action: []string{"s3:GetObject"}}}
	if store, err := url.Parse(b.opts.StateStore); err != nil || store.Scheme != "s3" || store.Host != u.Host {
		// stateStoreRead grants it already for the store's bucket.
		st = append(st, statement{Effect: "Allow", Resource: []string{bucketARN}, Action: []string{"s3:GetBucketLocation"}})
	}
	return st
}
