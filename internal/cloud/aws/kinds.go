package aws

import "github.com/kapstan/kapstan/internal/engine"

// Resource kinds, as they appear in addresses (Kind/Name) and plans.
const (
	KindVPC                   = "VPC"
	KindInternetGateway       = "InternetGateway"
	KindSubnet                = "Subnet"
	KindRouteTable            = "RouteTable"
	KindRoute                 = "Route"
	KindRouteTableAssociation = "RouteTableAssociation"
	KindElasticIP             = "ElasticIP"
	KindNATGateway            = "NATGateway"
	KindSecurityGroup         = "SecurityGroup"
	KindSecurityGroupRule     = "SecurityGroupRule"
	KindIAMRole               = "IAMRole"
	KindIAMRolePolicy         = "IAMRolePolicy"
	KindInstanceProfile       = "InstanceProfile"
	KindKeyPair               = "KeyPair"
	KindLaunchTemplate        = "LaunchTemplate"
	KindAutoScalingGroup      = "AutoScalingGroup"
	KindVolume                = "Volume"
	KindLoadBalancer          = "LoadBalancer"
	KindTargetGroup           = "TargetGroup"
	KindListener              = "Listener"
	KindDNSRecord             = "DNSRecord"
)

// deps collects the managed addresses among refs; references to unmanaged
// resources (known only by id) are not dependencies.
func deps(refs ...engine.Ref) []engine.Address {
	var out []engine.Address
	for _, r := range refs {
		if !r.Addr.IsZero() {
			out = append(out, r.Addr)
		}
	}
	return out
}
