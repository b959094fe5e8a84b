# Cluster shared.k8s.local, spec revision 1, rendered by kapstan: edit the cluster's spec and render again rather than this file.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.13"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

data "aws_ssm_parameter" "image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_autoscaling_group" "control-plane-us-east-1a" {
  name                = "control-plane-us-east-1a.shared.k8s.local"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = ["subnet-0aaa1111bbbb2222c"]
  target_group_arns   = [aws_lb_target_group.api.arn]
  launch_template {
    id      = aws_launch_template.control-plane-us-east-1a.id
    version = aws_launch_template.control-plane-us-east-1a.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "shared.k8s.local"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "control-plane-us-east-1a.shared.k8s.local"
    propagate_at_launch = true
  }
  tag {
    key                 = "k8s.io/role/control-plane"
    value               = "1"
    propagate_at_launch = true
  }
  tag {
    key                 = "kapstan.io/address"
    value               = "AutoScalingGroup/control-plane-us-east-1a"
    propagate_at_launch = false
  }
  tag {
    key                 = "kapstan.io/instancegroup"
    value               = "control-plane-us-east-1a"
    propagate_at_launch = true
  }
  tag {
    key                 = "kubernetes.io/cluster/shared.k8s.local"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "nodes" {
  name                = "nodes.shared.k8s.local"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = ["subnet-0aaa1111bbbb2222c", "subnet-0ddd3333eeee4444f"]
  launch_template {
    id      = aws_launch_template.nodes.id
    version = aws_launch_template.nodes.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "shared.k8s.local"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "nodes.shared.k8s.local"
    propagate_at_launch = true
  }
  tag {
    key                 = "k8s.io/role/node"
    value               = "1"
    propagate_at_launch = true
  }
  tag {
    key                 = "kapstan.io/address"
    value               = "AutoScalingGroup/nodes"
    propagate_at_launch = false
  }
  tag {
    key                 = "kapstan.io/instancegroup"
    value               = "nodes"
    propagate_at_launch = true
  }
  tag {
    key                 = "kubernetes.io/cluster/shared.k8s.local"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_ebs_volume" "events-control-plane-us-east-1a" {
  availability_zone = "us-east-1a"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "events-control-plane-us-east-1a.etcd.shared.k8s.local"
    "k8s.io/role/control-plane"              = "1"
    "kapstan.io/address"                     = "Volume/events-control-plane-us-east-1a"
    "kapstan.io/etcd/events"                 = "control-plane-us-east-1a"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_ebs_volume" "main-control-plane-us-east-1a" {
  availability_zone = "us-east-1a"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "main-control-plane-us-east-1a.etcd.shared.k8s.local"
    "k8s.io/role/control-plane"              = "1"
    "kapstan.io/address"                     = "Volume/main-control-plane-us-east-1a"
    "kapstan.io/etcd/main"                   = "control-plane-us-east-1a"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_ec2_tag" "natgateway_egress-us-east-1a" {
  resource_id = "nat-0123456789abcdef0"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "natgateway_egress-us-east-1b" {
  resource_id = "nat-0fedcba9876543210"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "subnet_us-east-1a" {
  resource_id = "subnet-0aaa1111bbbb2222c"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "subnet_us-east-1b" {
  resource_id = "subnet-0ddd3333eeee4444f"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "subnet_utility-us-east-1a" {
  resource_id = "subnet-0fff5555aaaa6666b"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "subnet_utility-us-east-1b" {
  resource_id = "subnet-0bbb7777cccc8888d"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_ec2_tag" "vpc_shared_k8s_local" {
  resource_id = "vpc-0a1b2c3d4e5f60718"
  key         = "kubernetes.io/cluster/shared.k8s.local"
  value       = "shared"
}

resource "aws_iam_instance_profile" "control-plane_shared_k8s_local" {
  name = "control-plane.shared.k8s.local"
  path = "/kapstan/shared.k8s.local/"
  role = aws_iam_role.control-plane_shared_k8s_local.name
}

resource "aws_iam_instance_profile" "nodes_shared_k8s_local" {
  name = "nodes.shared.k8s.local"
  path = "/kapstan/shared.k8s.local/"
  role = aws_iam_role.nodes_shared_k8s_local.name
}

resource "aws_iam_role" "control-plane_shared_k8s_local" {
  name               = "control-plane.shared.k8s.local"
  path               = "/kapstan/shared.k8s.local/"
  assume_role_policy = file("${path.module}/data/aws_iam_role_control-plane_shared_k8s_local_policy")
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "control-plane.shared.k8s.local"
    "kapstan.io/address"                     = "IAMRole/control-plane.shared.k8s.local"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_iam_role" "nodes_shared_k8s_local" {
  name               = "nodes.shared.k8s.local"
  path               = "/kapstan/shared.k8s.local/"
  assume_role_policy = file("${path.module}/data/aws_iam_role_nodes_shared_k8s_local_policy")
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "nodes.shared.k8s.local"
    "kapstan.io/address"                     = "IAMRole/nodes.shared.k8s.local"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_iam_role_policy" "control-plane_shared_k8s_local_kapstan" {
  name   = "kapstan"
  role   = aws_iam_role.control-plane_shared_k8s_local.name
  policy = file("${path.module}/data/aws_iam_role_policy_control-plane_shared_k8s_local_kapstan_policy")
}

resource "aws_iam_role_policy" "nodes_shared_k8s_local_kapstan" {
  name   = "kapstan"
  role   = aws_iam_role.nodes_shared_k8s_local.name
  policy = file("${path.module}/data/aws_iam_role_policy_nodes_shared_k8s_local_kapstan_policy")
}

resource "aws_launch_template" "control-plane-us-east-1a" {
  name                   = "control-plane-us-east-1a.shared.k8s.local"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.control-plane.id]
  user_data              = filebase64("${path.module}/data/aws_launch_template_control-plane-us-east-1a_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "control-plane-us-east-1a.shared.k8s.local"
    "k8s.io/role/control-plane"              = "1"
    "kapstan.io/address"                     = "LaunchTemplate/control-plane-us-east-1a"
    "kapstan.io/instancegroup"               = "control-plane-us-east-1a"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.control-plane_shared_k8s_local.name
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 64
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  tag_specifications {
    resource_type = "instance"
    tags = {
      "KubernetesCluster"                      = "shared.k8s.local"
      "Name"                                   = "control-plane-us-east-1a.shared.k8s.local"
      "k8s.io/role/control-plane"              = "1"
      "kapstan.io/instancegroup"               = "control-plane-us-east-1a"
      "kubernetes.io/cluster/shared.k8s.local" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                      = "shared.k8s.local"
      "Name"                                   = "control-plane-us-east-1a.shared.k8s.local"
      "k8s.io/role/control-plane"              = "1"
      "kapstan.io/instancegroup"               = "control-plane-us-east-1a"
      "kubernetes.io/cluster/shared.k8s.local" = "owned"
    }
  }
}

resource "aws_launch_template" "nodes" {
  name                   = "nodes.shared.k8s.local"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.nodes.id]
  user_data              = filebase64("${path.module}/data/aws_launch_template_nodes_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "nodes.shared.k8s.local"
    "k8s.io/role/node"                       = "1"
    "kapstan.io/address"                     = "LaunchTemplate/nodes"
    "kapstan.io/instancegroup"               = "nodes"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.nodes_shared_k8s_local.name
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 128
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  tag_specifications {
    resource_type = "instance"
    tags = {
      "KubernetesCluster"                      = "shared.k8s.local"
      "Name"                                   = "nodes.shared.k8s.local"
      "k8s.io/role/node"                       = "1"
      "kapstan.io/instancegroup"               = "nodes"
      "kubernetes.io/cluster/shared.k8s.local" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                      = "shared.k8s.local"
      "Name"                                   = "nodes.shared.k8s.local"
      "k8s.io/role/node"                       = "1"
      "kapstan.io/instancegroup"               = "nodes"
      "kubernetes.io/cluster/shared.k8s.local" = "owned"
    }
  }
}

resource "aws_lb" "api" {
  name               = "api-shared-k8s-local"
  load_balancer_type = "network"
  internal           = false
  subnets            = ["subnet-0fff5555aaaa6666b", "subnet-0bbb7777cccc8888d"]
  security_groups    = [aws_security_group.api-lb.id]
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "api.shared.k8s.local"
    "kapstan.io/address"                     = "LoadBalancer/api"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_lb_listener" "api_443" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "TCP"
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_target_group" "api" {
  name        = "tcp-shared-k8s-local"
  port        = 443
  protocol    = "TCP"
  vpc_id      = "vpc-0a1b2c3d4e5f60718"
  target_type = "instance"
  health_check {
    protocol = "TCP"
  }
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "api.shared.k8s.local"
    "kapstan.io/address"                     = "TargetGroup/api"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_security_group" "api-lb" {
  name        = "api-lb.shared.k8s.local"
  description = "api-lb of Kubernetes cluster shared.k8s.local"
  vpc_id      = "vpc-0a1b2c3d4e5f60718"
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "api-lb.shared.k8s.local"
    "kapstan.io/address"                     = "SecurityGroup/api-lb"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_security_group" "control-plane" {
  name        = "control-plane.shared.k8s.local"
  description = "control-plane of Kubernetes cluster shared.k8s.local"
  vpc_id      = "vpc-0a1b2c3d4e5f60718"
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "control-plane.shared.k8s.local"
    "kapstan.io/address"                     = "SecurityGroup/control-plane"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_security_group" "nodes" {
  name        = "nodes.shared.k8s.local"
  description = "nodes of Kubernetes cluster shared.k8s.local"
  vpc_id      = "vpc-0a1b2c3d4e5f60718"
  tags = {
    "KubernetesCluster"                      = "shared.k8s.local"
    "Name"                                   = "nodes.shared.k8s.local"
    "kapstan.io/address"                     = "SecurityGroup/nodes"
    "kubernetes.io/cluster/shared.k8s.local" = "owned"
  }
}

resource "aws_vpc_security_group_egress_rule" "api-lb" {
  security_group_id = aws_security_group.api-lb.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all traffic out"
}

resource "aws_vpc_security_group_egress_rule" "control-plane" {
  security_group_id = aws_security_group.control-plane.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all traffic out"
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  security_group_id = aws_security_group.nodes.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all traffic out"
}

resource "aws_vpc_security_group_ingress_rule" "api-lb-ingress-tcp-443-443-from-0_0_0_0_0" {
  security_group_id = aws_security_group.api-lb.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  description       = "API access"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-all-0-0-from-control-plane" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.control-plane.id
  description                  = "control plane to control plane"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-tcp-4240-4240-from-nodes" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "tcp"
  from_port                    = 4240
  to_port                      = 4240
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to control plane: cilium"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-tcp-443-443-from-api-lb" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.api-lb.id
  description                  = "API load balancer to the API, and its health checks"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-tcp-443-443-from-nodes" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to the API"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-udp-8472-8472-from-nodes" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "udp"
  from_port                    = 8472
  to_port                      = 8472
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to control plane: cilium"
}

resource "aws_vpc_security_group_ingress_rule" "nodes-ingress-all-0-0-from-control-plane" {
  security_group_id            = aws_security_group.nodes.id
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.control-plane.id
  description                  = "control plane to nodes"
}

resource "aws_vpc_security_group_ingress_rule" "nodes-ingress-all-0-0-from-nodes" {
  security_group_id            = aws_security_group.nodes.id
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to nodes"
}

output "api_endpoint" {
  value = aws_lb.api.dns_name
}

output "api_load_balancer_dns_name" {
  value = aws_lb.api.dns_name
}

output "autoscaling_group_names" {
  value = {
    "control-plane-us-east-1a" = aws_autoscaling_group.control-plane-us-east-1a.name
    "nodes"                    = aws_autoscaling_group.nodes.name
  }
}

output "cluster_name" {
  value = "shared.k8s.local"
}

output "region" {
  value = "us-east-1"
}

output "security_group_ids" {
  value = {
    "api-lb"        = aws_security_group.api-lb.id
    "control-plane" = aws_security_group.control-plane.id
    "nodes"         = aws_security_group.nodes.id
  }
}

output "subnet_ids" {
  value = {
    "us-east-1a"         = "subnet-0aaa1111bbbb2222c"
    "us-east-1b"         = "subnet-0ddd3333eeee4444f"
    "utility-us-east-1a" = "subnet-0fff5555aaaa6666b"
    "utility-us-east-1b" = "subnet-0bbb7777cccc8888d"
  }
}

output "vpc_id" {
  value = "vpc-0a1b2c3d4e5f60718"
}
