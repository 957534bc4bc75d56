"""A VPC for a new cluster: public subnets for load balancers and NAT, private subnets for nodes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config.models import NetworkConfig


@dataclass(frozen=True)
class SubnetPlan:
    private: list[str]
    public: list[str]


def subnet_plan(vpc_cidr: str, zones: int) -> SubnetPlan:
    """Private subnets take three quarters of the VPC (pods get VPC addresses on the VPC CNI);
    the last quarter is cut into small public subnets that only hold NAT and load balancers."""
    network = ipaddress.ip_network(vpc_cidr)
    quarters = list(network.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=3))
    return SubnetPlan(private=[str(q) for q in quarters[:zones]], public=[str(p) for p in public[:zones]])


class Network(pulumi.ComponentResource):
    """VPC, one public and one private subnet per zone, NAT gateway(s) and routes."""

    def __init__(
        self,
        name: str,
        config: NetworkConfig,
        cluster_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("gptoss:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        plan = subnet_plan(config.vpc_cidr, config.availability_zones)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=config.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": name}, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )

        self.public_subnet_ids: list[pulumi.Output[str]] = []
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        nat_ids: list[pulumi.Output[str]] = []
        for index in range(config.availability_zones):
            zone = zones.names.apply(lambda names, i=index: names[i])
            public = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=plan.public[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{index}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}", subnet_id=public.id, route_table_id=public_routes.id, opts=child
            )
            self.public_subnet_ids.append(public.id)
            if index == 0 or not config.single_nat_gateway:
                eip = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", tags={"Name": f"{name}-nat-{index}"}, opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=eip.id,
                    subnet_id=public.id,
                    tags={"Name": f"{name}-nat-{index}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
                nat_ids.append(nat.id)

        for index in range(config.availability_zones):
            zone = zones.names.apply(lambda names, i=index: names[i])
            private = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                cidr_block=plan.private[index],
                availability_zone=zone,
                tags={
                    "Name": f"{name}-private-{index}",
                    "kubernetes.io/role/internal-elb": "1",
                    f"kubernetes.io/cluster/{cluster_name}": "shared",
                },
                opts=child,
            )
            routes = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[min(index, len(nat_ids) - 1)]}],
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{index}", subnet_id=private.id, route_table_id=routes.id, opts=child)
            self.private_subnet_ids.append(private.id)

        self.register_outputs(
            {"vpc_id": self.vpc.id, "private_subnet_ids": self.private_subnet_ids, "public_subnet_ids": self.public_subnet_ids}
        )
