# Cluster private.example.com, spec revision 1, rendered by kapstan: edit the cluster's spec and render again rather than this file.

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

data "aws_ami" "image_099720109477_ubuntu_images_hvm-ssd-gp3_ubuntu-noble-24_04-amd64-server-_" {
  most_recent = true
  owners      = ["099720109477"]
  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
  }
}

data "aws_route53_zone" "zone_example_com" {
  name = "example.com"
}

data "aws_ssm_parameter" "image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_autoscaling_group" "bastions" {
  name                = "bastions.private.example.com"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = [aws_subnet.utility-us-east-1a.id, aws_subnet.utility-us-east-1b.id, aws_subnet.utility-us-east-1c.id]
  launch_template {
    id      = aws_launch_template.bastions.id
    version = aws_launch_template.bastions.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "bastions.private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "k8s.io/role/bastion"
    value               = "1"
    propagate_at_launch = true
  }
  tag {
    key                 = "kapstan.io/address"
    value               = "AutoScalingGroup/bastions"
    propagate_at_launch = false
  }
  tag {
    key                 = "kapstan.io/instancegroup"
    value               = "bastions"
    propagate_at_launch = true
  }
  tag {
    key                 = "kubernetes.io/cluster/private.example.com"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "control-plane-us-east-1a" {
  name                = "control-plane-us-east-1a.private.example.com"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = [aws_subnet.us-east-1a.id]
  target_group_arns   = [aws_lb_target_group.api.arn]
  launch_template {
    id      = aws_launch_template.control-plane-us-east-1a.id
    version = aws_launch_template.control-plane-us-east-1a.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "control-plane-us-east-1a.private.example.com"
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
    key                 = "kubernetes.io/cluster/private.example.com"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "control-plane-us-east-1b" {
  name                = "control-plane-us-east-1b.private.example.com"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = [aws_subnet.us-east-1b.id]
  target_group_arns   = [aws_lb_target_group.api.arn]
  launch_template {
    id      = aws_launch_template.control-plane-us-east-1b.id
    version = aws_launch_template.control-plane-us-east-1b.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "control-plane-us-east-1b.private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "k8s.io/role/control-plane"
    value               = "1"
    propagate_at_launch = true
  }
  tag {
    key                 = "kapstan.io/address"
    value               = "AutoScalingGroup/control-plane-us-east-1b"
    propagate_at_launch = false
  }
  tag {
    key                 = "kapstan.io/instancegroup"
    value               = "control-plane-us-east-1b"
    propagate_at_launch = true
  }
  tag {
    key                 = "kubernetes.io/cluster/private.example.com"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "control-plane-us-east-1c" {
  name                = "control-plane-us-east-1c.private.example.com"
  min_size            = 1
  max_size            = 1
  vpc_zone_identifier = [aws_subnet.us-east-1c.id]
  target_group_arns   = [aws_lb_target_group.api.arn]
  launch_template {
    id      = aws_launch_template.control-plane-us-east-1c.id
    version = aws_launch_template.control-plane-us-east-1c.latest_version
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "control-plane-us-east-1c.private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "k8s.io/role/control-plane"
    value               = "1"
    propagate_at_launch = true
  }
  tag {
    key                 = "kapstan.io/address"
    value               = "AutoScalingGroup/control-plane-us-east-1c"
    propagate_at_launch = false
  }
  tag {
    key                 = "kapstan.io/instancegroup"
    value               = "control-plane-us-east-1c"
    propagate_at_launch = true
  }
  tag {
    key                 = "kubernetes.io/cluster/private.example.com"
    value               = "owned"
    propagate_at_launch = true
  }
}

resource "aws_autoscaling_group" "nodes" {
  name                = "nodes.private.example.com"
  min_size            = 2
  max_size            = 2
  vpc_zone_identifier = [aws_subnet.us-east-1a.id, aws_subnet.us-east-1b.id, aws_subnet.us-east-1c.id]
  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = 1
      on_demand_percentage_above_base_capacity = 25
      spot_allocation_strategy                 = "capacity-optimized"
    }
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.nodes.id
        version            = aws_launch_template.nodes.latest_version
      }
      override {
        instance_type = "m6i.large"
      }
      override {
        instance_type = "m5.large"
      }
    }
  }
  tag {
    key                 = "KubernetesCluster"
    value               = "private.example.com"
    propagate_at_launch = true
  }
  tag {
    key                 = "Name"
    value               = "nodes.private.example.com"
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
    key                 = "kubernetes.io/cluster/private.example.com"
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
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "events-control-plane-us-east-1a.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/events-control-plane-us-east-1a"
    "kapstan.io/etcd/events"                    = "control-plane-us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_ebs_volume" "events-control-plane-us-east-1b" {
  availability_zone = "us-east-1b"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "events-control-plane-us-east-1b.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/events-control-plane-us-east-1b"
    "kapstan.io/etcd/events"                    = "control-plane-us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_ebs_volume" "events-control-plane-us-east-1c" {
  availability_zone = "us-east-1c"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "events-control-plane-us-east-1c.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/events-control-plane-us-east-1c"
    "kapstan.io/etcd/events"                    = "control-plane-us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_ebs_volume" "main-control-plane-us-east-1a" {
  availability_zone = "us-east-1a"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "main-control-plane-us-east-1a.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/main-control-plane-us-east-1a"
    "kapstan.io/etcd/main"                      = "control-plane-us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_ebs_volume" "main-control-plane-us-east-1b" {
  availability_zone = "us-east-1b"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "main-control-plane-us-east-1b.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/main-control-plane-us-east-1b"
    "kapstan.io/etcd/main"                      = "control-plane-us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_ebs_volume" "main-control-plane-us-east-1c" {
  availability_zone = "us-east-1c"
  size              = 20
  type              = "gp3"
  encrypted         = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "main-control-plane-us-east-1c.etcd.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "Volume/main-control-plane-us-east-1c"
    "kapstan.io/etcd/main"                      = "control-plane-us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_eip" "us-east-1a" {
  domain = "vpc"
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1a.private.example.com"
    "kapstan.io/address"                        = "ElasticIP/us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_eip" "us-east-1b" {
  domain = "vpc"
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1b.private.example.com"
    "kapstan.io/address"                        = "ElasticIP/us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_eip" "us-east-1c" {
  domain = "vpc"
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1c.private.example.com"
    "kapstan.io/address"                        = "ElasticIP/us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_iam_instance_profile" "bastion_private_example_com" {
  name = "bastion.private.example.com"
  path = "/kapstan/private.example.com/"
  role = aws_iam_role.bastion_private_example_com.name
}

resource "aws_iam_instance_profile" "control-plane_private_example_com" {
  name = "control-plane.private.example.com"
  path = "/kapstan/private.example.com/"
  role = aws_iam_role.control-plane_private_example_com.name
}

resource "aws_iam_instance_profile" "nodes_private_example_com" {
  name = "nodes.private.example.com"
  path = "/kapstan/private.example.com/"
  role = aws_iam_role.nodes_private_example_com.name
}

resource "aws_iam_role" "bastion_private_example_com" {
  name               = "bastion.private.example.com"
  path               = "/kapstan/private.example.com/"
  assume_role_policy = file("${path.module}/data/aws_iam_role_bastion_private_example_com_policy")
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "bastion.private.example.com"
    "kapstan.io/address"                        = "IAMRole/bastion.private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_iam_role" "control-plane_private_example_com" {
  name               = "control-plane.private.example.com"
  path               = "/kapstan/private.example.com/"
  assume_role_policy = file("${path.module}/data/aws_iam_role_control-plane_private_example_com_policy")
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "control-plane.private.example.com"
    "kapstan.io/address"                        = "IAMRole/control-plane.private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_iam_role" "nodes_private_example_com" {
  name               = "nodes.private.example.com"
  path               = "/kapstan/private.example.com/"
  assume_role_policy = file("${path.module}/data/aws_iam_role_nodes_private_example_com_policy")
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "nodes.private.example.com"
    "kapstan.io/address"                        = "IAMRole/nodes.private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_iam_role_policy" "bastion_private_example_com_kapstan" {
  name   = "kapstan"
  role   = aws_iam_role.bastion_private_example_com.name
  policy = file("${path.module}/data/aws_iam_role_policy_bastion_private_example_com_kapstan_policy")
}

resource "aws_iam_role_policy" "control-plane_private_example_com_kapstan" {
  name   = "kapstan"
  role   = aws_iam_role.control-plane_private_example_com.name
  policy = file("${path.module}/data/aws_iam_role_policy_control-plane_private_example_com_kapstan_policy")
}

resource "aws_iam_role_policy" "nodes_private_example_com_kapstan" {
  name   = "kapstan"
  role   = aws_iam_role.nodes_private_example_com.name
  policy = file("${path.module}/data/aws_iam_role_policy_nodes_private_example_com_kapstan_policy")
}

resource "aws_internet_gateway" "private_example_com" {
  vpc_id = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private.example.com"
    "kapstan.io/address"                        = "InternetGateway/private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_key_pair" "private_example_com" {
  key_name   = "kapstan.private.example.com"
  public_key = file("${path.module}/data/aws_key_pair_private_example_com_public_key")
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private.example.com"
    "kapstan.io/address"                        = "KeyPair/private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_launch_template" "bastions" {
  name                   = "bastions.private.example.com"
  image_id               = data.aws_ami.image_099720109477_ubuntu_images_hvm-ssd-gp3_ubuntu-noble-24_04-amd64-server-_.id
  instance_type          = "t3.micro"
  vpc_security_group_ids = [aws_security_group.bastion.id]
  key_name               = aws_key_pair.private_example_com.key_name
  user_data              = filebase64("${path.module}/data/aws_launch_template_bastions_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "bastions.private.example.com"
    "k8s.io/role/bastion"                       = "1"
    "kapstan.io/address"                        = "LaunchTemplate/bastions"
    "kapstan.io/instancegroup"                  = "bastions"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.bastion_private_example_com.name
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 32
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
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "bastions.private.example.com"
      "k8s.io/role/bastion"                       = "1"
      "kapstan.io/instancegroup"                  = "bastions"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "bastions.private.example.com"
      "k8s.io/role/bastion"                       = "1"
      "kapstan.io/instancegroup"                  = "bastions"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
}

resource "aws_launch_template" "control-plane-us-east-1a" {
  name                   = "control-plane-us-east-1a.private.example.com"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.control-plane.id]
  key_name               = aws_key_pair.private_example_com.key_name
  user_data              = filebase64("${path.module}/data/aws_launch_template_control-plane-us-east-1a_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "control-plane-us-east-1a.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "LaunchTemplate/control-plane-us-east-1a"
    "kapstan.io/instancegroup"                  = "control-plane-us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.control-plane_private_example_com.name
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
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1a.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1a"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1a.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1a"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
}

resource "aws_launch_template" "control-plane-us-east-1b" {
  name                   = "control-plane-us-east-1b.private.example.com"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.control-plane.id]
  key_name               = aws_key_pair.private_example_com.key_name
  user_data              = filebase64("${path.module}/data/aws_launch_template_control-plane-us-east-1b_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "control-plane-us-east-1b.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "LaunchTemplate/control-plane-us-east-1b"
    "kapstan.io/instancegroup"                  = "control-plane-us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.control-plane_private_example_com.name
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
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1b.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1b"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1b.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1b"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
}

resource "aws_launch_template" "control-plane-us-east-1c" {
  name                   = "control-plane-us-east-1c.private.example.com"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.control-plane.id]
  key_name               = aws_key_pair.private_example_com.key_name
  user_data              = filebase64("${path.module}/data/aws_launch_template_control-plane-us-east-1c_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "control-plane-us-east-1c.private.example.com"
    "k8s.io/role/control-plane"                 = "1"
    "kapstan.io/address"                        = "LaunchTemplate/control-plane-us-east-1c"
    "kapstan.io/instancegroup"                  = "control-plane-us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.control-plane_private_example_com.name
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
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1c.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1c"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "control-plane-us-east-1c.private.example.com"
      "k8s.io/role/control-plane"                 = "1"
      "kapstan.io/instancegroup"                  = "control-plane-us-east-1c"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
}

resource "aws_launch_template" "nodes" {
  name                   = "nodes.private.example.com"
  image_id               = data.aws_ssm_parameter.image_aws_service_ami-amazon-linux-latest_al2023-ami-kernel-default-x86_64.insecure_value
  instance_type          = "t3.medium"
  vpc_security_group_ids = [aws_security_group.nodes.id]
  key_name               = aws_key_pair.private_example_com.key_name
  user_data              = filebase64("${path.module}/data/aws_launch_template_nodes_user_data")
  update_default_version = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "nodes.private.example.com"
    "k8s.io/role/node"                          = "1"
    "kapstan.io/address"                        = "LaunchTemplate/nodes"
    "kapstan.io/instancegroup"                  = "nodes"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
  iam_instance_profile {
    name = aws_iam_instance_profile.nodes_private_example_com.name
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
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "nodes.private.example.com"
      "k8s.io/role/node"                          = "1"
      "kapstan.io/instancegroup"                  = "nodes"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
  tag_specifications {
    resource_type = "volume"
    tags = {
      "KubernetesCluster"                         = "private.example.com"
      "Name"                                      = "nodes.private.example.com"
      "k8s.io/role/node"                          = "1"
      "kapstan.io/instancegroup"                  = "nodes"
      "kubernetes.io/cluster/private.example.com" = "owned"
    }
  }
}

resource "aws_lb" "api" {
  name               = "api-private-example-com"
  load_balancer_type = "network"
  internal           = false
  subnets            = [aws_subnet.utility-us-east-1a.id, aws_subnet.utility-us-east-1b.id, aws_subnet.utility-us-east-1c.id]
  security_groups    = [aws_security_group.api-lb.id]
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "api.private.example.com"
    "kapstan.io/address"                        = "LoadBalancer/api"
    "kubernetes.io/cluster/private.example.com" = "owned"
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
  name        = "tcp-private-example-com"
  port        = 443
  protocol    = "TCP"
  vpc_id      = aws_vpc.private_example_com.id
  target_type = "instance"
  health_check {
    protocol = "TCP"
  }
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "api.private.example.com"
    "kapstan.io/address"                        = "TargetGroup/api"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_nat_gateway" "us-east-1a" {
  allocation_id = aws_eip.us-east-1a.id
  subnet_id     = aws_subnet.utility-us-east-1a.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1a.private.example.com"
    "kapstan.io/address"                        = "NATGateway/us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_nat_gateway" "us-east-1b" {
  allocation_id = aws_eip.us-east-1b.id
  subnet_id     = aws_subnet.utility-us-east-1b.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1b.private.example.com"
    "kapstan.io/address"                        = "NATGateway/us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_nat_gateway" "us-east-1c" {
  allocation_id = aws_eip.us-east-1c.id
  subnet_id     = aws_subnet.utility-us-east-1c.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1c.private.example.com"
    "kapstan.io/address"                        = "NATGateway/us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_route" "private-us-east-1a_0_0_0_0_0" {
  route_table_id         = aws_route_table.private-us-east-1a.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.us-east-1a.id
}

resource "aws_route" "private-us-east-1b_0_0_0_0_0" {
  route_table_id         = aws_route_table.private-us-east-1b.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.us-east-1b.id
}

resource "aws_route" "private-us-east-1c_0_0_0_0_0" {
  route_table_id         = aws_route_table.private-us-east-1c.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.us-east-1c.id
}

resource "aws_route" "public_0_0_0_0_0" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.private_example_com.id
}

resource "aws_route53_record" "api_internal_private_example_com" {
  zone_id = data.aws_route53_zone.zone_example_com.zone_id
  name    = "api.internal.private.example.com"
  type    = "A"
  alias {
    name                   = aws_lb.api.dns_name
    zone_id                = aws_lb.api.zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "api_private_example_com" {
  zone_id = data.aws_route53_zone.zone_example_com.zone_id
  name    = "api.private.example.com"
  type    = "A"
  alias {
    name                   = aws_lb.api.dns_name
    zone_id                = aws_lb.api.zone_id
    evaluate_target_health = false
  }
}

resource "aws_route_table" "private-us-east-1a" {
  vpc_id = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private-us-east-1a.private.example.com"
    "kapstan.io/address"                        = "RouteTable/private-us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_route_table" "private-us-east-1b" {
  vpc_id = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private-us-east-1b.private.example.com"
    "kapstan.io/address"                        = "RouteTable/private-us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_route_table" "private-us-east-1c" {
  vpc_id = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private-us-east-1c.private.example.com"
    "kapstan.io/address"                        = "RouteTable/private-us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "public.private.example.com"
    "kapstan.io/address"                        = "RouteTable/public"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_route_table_association" "us-east-1a" {
  subnet_id      = aws_subnet.us-east-1a.id
  route_table_id = aws_route_table.private-us-east-1a.id
}

resource "aws_route_table_association" "us-east-1b" {
  subnet_id      = aws_subnet.us-east-1b.id
  route_table_id = aws_route_table.private-us-east-1b.id
}

resource "aws_route_table_association" "us-east-1c" {
  subnet_id      = aws_subnet.us-east-1c.id
  route_table_id = aws_route_table.private-us-east-1c.id
}

resource "aws_route_table_association" "utility-us-east-1a" {
  subnet_id      = aws_subnet.utility-us-east-1a.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "utility-us-east-1b" {
  subnet_id      = aws_subnet.utility-us-east-1b.id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table_association" "utility-us-east-1c" {
  subnet_id      = aws_subnet.utility-us-east-1c.id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "api-lb" {
  name        = "api-lb.private.example.com"
  description = "api-lb of Kubernetes cluster private.example.com"
  vpc_id      = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "api-lb.private.example.com"
    "kapstan.io/address"                        = "SecurityGroup/api-lb"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_security_group" "bastion" {
  name        = "bastion.private.example.com"
  description = "bastion of Kubernetes cluster private.example.com"
  vpc_id      = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "bastion.private.example.com"
    "kapstan.io/address"                        = "SecurityGroup/bastion"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_security_group" "control-plane" {
  name        = "control-plane.private.example.com"
  description = "control-plane of Kubernetes cluster private.example.com"
  vpc_id      = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "control-plane.private.example.com"
    "kapstan.io/address"                        = "SecurityGroup/control-plane"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_security_group" "nodes" {
  name        = "nodes.private.example.com"
  description = "nodes of Kubernetes cluster private.example.com"
  vpc_id      = aws_vpc.private_example_com.id
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "nodes.private.example.com"
    "kapstan.io/address"                        = "SecurityGroup/nodes"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_subnet" "us-east-1a" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.0.0/18"
  availability_zone       = "us-east-1a"
  map_public_ip_on_launch = false
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1a.private.example.com"
    "kapstan.io/address"                        = "Subnet/us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/internal-elb"           = "1"
  }
}

resource "aws_subnet" "us-east-1b" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.64.0/18"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = false
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1b.private.example.com"
    "kapstan.io/address"                        = "Subnet/us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/internal-elb"           = "1"
  }
}

resource "aws_subnet" "us-east-1c" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.128.0/18"
  availability_zone       = "us-east-1c"
  map_public_ip_on_launch = false
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "us-east-1c.private.example.com"
    "kapstan.io/address"                        = "Subnet/us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/internal-elb"           = "1"
  }
}

resource "aws_subnet" "utility-us-east-1a" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.192.0/21"
  availability_zone       = "us-east-1a"
  map_public_ip_on_launch = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "utility-us-east-1a.private.example.com"
    "kapstan.io/address"                        = "Subnet/utility-us-east-1a"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/elb"                    = "1"
  }
}

resource "aws_subnet" "utility-us-east-1b" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.200.0/21"
  availability_zone       = "us-east-1b"
  map_public_ip_on_launch = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "utility-us-east-1b.private.example.com"
    "kapstan.io/address"                        = "Subnet/utility-us-east-1b"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/elb"                    = "1"
  }
}

resource "aws_subnet" "utility-us-east-1c" {
  vpc_id                  = aws_vpc.private_example_com.id
  cidr_block              = "172.20.208.0/21"
  availability_zone       = "us-east-1c"
  map_public_ip_on_launch = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "utility-us-east-1c.private.example.com"
    "kapstan.io/address"                        = "Subnet/utility-us-east-1c"
    "kubernetes.io/cluster/private.example.com" = "owned"
    "kubernetes.io/role/elb"                    = "1"
  }
}

resource "aws_vpc" "private_example_com" {
  cidr_block           = "172.20.0.0/16"
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags = {
    "KubernetesCluster"                         = "private.example.com"
    "Name"                                      = "private.example.com"
    "kapstan.io/address"                        = "VPC/private.example.com"
    "kubernetes.io/cluster/private.example.com" = "owned"
  }
}

resource "aws_vpc_security_group_egress_rule" "api-lb" {
  security_group_id = aws_security_group.api-lb.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all traffic out"
}

resource "aws_vpc_security_group_egress_rule" "bastion" {
  security_group_id = aws_security_group.bastion.id
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

resource "aws_vpc_security_group_ingress_rule" "bastion-ingress-tcp-22-22-from-0_0_0_0_0" {
  security_group_id = aws_security_group.bastion.id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "0.0.0.0/0"
  description       = "SSH to the bastion"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-4-0-0-from-nodes" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "4"
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to control plane: calico"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-all-0-0-from-control-plane" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.control-plane.id
  description                  = "control plane to control plane"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-tcp-179-179-from-nodes" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "tcp"
  from_port                    = 179
  to_port                      = 179
  referenced_security_group_id = aws_security_group.nodes.id
  description                  = "nodes to control plane: calico"
}

resource "aws_vpc_security_group_ingress_rule" "control-plane-ingress-tcp-22-22-from-bastion" {
  security_group_id            = aws_security_group.control-plane.id
  ip_protocol                  = "tcp"
  from_port                    = 22
  to_port                      = 22
  referenced_security_group_id = aws_security_group.bastion.id
  description                  = "SSH from the bastion"
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

resource "aws_vpc_security_group_ingress_rule" "nodes-ingress-tcp-22-22-from-bastion" {
  security_group_id            = aws_security_group.nodes.id
  ip_protocol                  = "tcp"
  from_port                    = 22
  to_port                      = 22
  referenced_security_group_id = aws_security_group.bastion.id
  description                  = "SSH from the bastion"
}

output "api_endpoint" {
  value = aws_route53_record.api_private_example_com.fqdn
}

output "api_load_balancer_dns_name" {
  value = aws_lb.api.dns_name
}

output "autoscaling_group_names" {
  value = {
    "bastions"                 = aws_autoscaling_group.bastions.name
    "control-plane-us-east-1a" = aws_autoscaling_group.control-plane-us-east-1a.name
    "control-plane-us-east-1b" = aws_autoscaling_group.control-plane-us-east-1b.name
    "control-plane-us-east-1c" = aws_autoscaling_group.control-plane-us-east-1c.name
    "nodes"                    = aws_autoscaling_group.nodes.name
  }
}

output "cluster_name" {
  value = "private.example.com"
}

output "region" {
  value = "us-east-1"
}

output "security_group_ids" {
  value = {
    "api-lb"        = aws_security_group.api-lb.id
    "bastion"       = aws_security_group.bastion.id
    "control-plane" = aws_security_group.control-plane.id
    "nodes"         = aws_security_group.nodes.id
  }
}

output "subnet_ids" {
  value = {
    "us-east-1a"         = aws_subnet.us-east-1a.id
    "us-east-1b"         = aws_subnet.us-east-1b.id
    "us-east-1c"         = aws_subnet.us-east-1c.id
    "utility-us-east-1a" = aws_subnet.utility-us-east-1a.id
    "utility-us-east-1b" = aws_subnet.utility-us-east-1b.id
    "utility-us-east-1c" = aws_subnet.utility-us-east-1c.id
  }
}

output "vpc_id" {
  value = aws_vpc.private_example_com.id
}
