package aws

import (
	"github.com/kapstan/kapstan/internal/render/cloudformation"
	"github.com/kapstan/kapstan/internal/render/terraform"
)

// Every kind renders to both file targets.
var (
	_ terraform.Renderable = (*VPC)(nil)
	_ terraform.Renderable = (*InternetGateway)(nil)
	_ terraform.Renderable = (*Subnet)(nil)
	_ terraform.Renderable = (*RouteTable)(nil)
	_ terraform.Renderable = (*Route)(nil)
	_ terraform.Renderable = (*RouteTableAssociation)(nil)
	_ terraform.Renderable = (*ElasticIP)(nil)
	_ terraform.Renderable = (*NATGateway)(nil)
	_ terraform.Renderable = (*SecurityGroup)(nil)
	_ terraform.Renderable = (*SecurityGroupRule)(nil)
	_ terraform.Renderable = (*IAMRole)(nil)
	_ terraform.Renderable = (*IAMRolePolicy)(nil)
	_ terraform.Renderable = (*InstanceProfile)(nil)
	_ terraform.Renderable = (*KeyPair)(nil)
	_ terraform.Renderable = (*LaunchTemplate)(nil)
	_ terraform.Renderable = (*AutoScalingGroup)(nil)
	_ terraform.Renderable = (*Volume)(nil)
	_ terraform.Renderable = (*LoadBalancer)(nil)
	_ terraform.Renderable = (*TargetGroup)(nil)
	_ terraform.Renderable = (*Listener)(nil)
	_ terraform.Renderable = (*DNSRecord)(nil)

	_ cloudformation.Renderable = (*VPC)(nil)
	_ cloudformation.Renderable = (*InternetGateway)(nil)
	_ cloudformation.Renderable = (*Subnet)(nil)
	_ cloudformation.Renderable = (*RouteTable)(nil)
	_ cloudformation.Renderable = (*Route)(nil)
	_ cloudformation.Renderable = (*RouteTableAssociation)(nil)
	_ cloudformation.Renderable = (*ElasticIP)(nil)
	_ cloudformation.Renderable = (*NATGateway)(nil)
	_ cloudformation.Renderable = (*SecurityGroup)(nil)
	_ cloudformation.Renderable = (*SecurityGroupRule)(nil)
	_ cloudformation.Renderable = (*IAMRole)(nil)
	_ cloudformation.Renderable = (*IAMRolePolicy)(nil)
	_ cloudformation.Renderable = (*InstanceProfile)(nil)
	_ cloudformation.Renderable = (*KeyPair)(nil)
	_ cloudformation.Renderable = (*LaunchTemplate)(nil)
	_ cloudformation.Renderable = (*AutoScalingGroup)(nil)
	_ cloudformation.Renderable = (*Volume)(nil)
	_ cloudformation.Renderable = (*LoadBalancer)(nil)
	_ cloudformation.Renderable = (*TargetGroup)(nil)
	_ cloudformation.Renderable = (*Listener)(nil)
	_ cloudformation.Renderable = (*DNSRecord)(nil)

	_ terraform.Existing      = (*VPC)(nil)
	_ terraform.Existing      = (*Subnet)(nil)
	_ terraform.Existing      = (*NATGateway)(nil)
	_ cloudformation.Existing = (*VPC)(nil)
	_ cloudformation.Existing = (*Subnet)(nil)
	_ cloudformation.Existing = (*NATGateway)(nil)
)

// ExistingID implements terraform.Existing and cloudformation.Existing: a
// shared VPC is its id in the files, never a resource.
func (r *VPC) ExistingID() string { return sharedID(r.Shared, r.ID) }

// ExistingID implements terraform.Existing and cloudformation.Existing.
func (r *Subnet) ExistingID() string { return sharedID(r.Shared, r.ID) }

// ExistingID implements terraform.Existing and cloudformation.Existing.
func (r *NATGateway) ExistingID() string { return sharedID(r.Shared, r.ID) }

func sharedID(shared bool, id string) string {
	if shared {
		return id
	}
	return ""
}
