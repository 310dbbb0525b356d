//! VPC: each project's network and subnet, and security groups with their rules.

use std::collections::HashMap;
use std::time::Duration;

use gpucloud_nebius_proto::common::v1 as common;
use gpucloud_nebius_proto::vpc::v1 as vpc;
use gpucloud_nebius_proto::vpc::v1::network_service_server::NetworkService;
use gpucloud_nebius_proto::vpc::v1::security_group_service_server::SecurityGroupService;
use gpucloud_nebius_proto::vpc::v1::security_rule_service_server::SecurityRuleService;
use gpucloud_nebius_proto::vpc::v1::subnet_service_server::SubnetService;
use tonic::{Request, Response, Status};

use super::{Api, Page, present, reply, required, vpc_name};
use crate::nebius::error::{ApiError, ApiResult};
use crate::nebius::op::Operation;
use crate::nebius::state::{Inner, Meta, Region, RuleRecord, SecurityGroupRecord, new_id};

const SERVICE: &str = "vpc";
const OPERATION_KIND: &str = "vpcoperation";

fn network_proto(region: &Region) -> vpc::Network {
    let mut meta = Meta::new(
        region.network_id.clone(),
        &region.project_id,
        "default-network",
        HashMap::new(),
    );
    meta.created_at = region.created_at;
    meta.updated_at = region.created_at;
    vpc::Network {
        metadata: Some(meta.to_proto()),
        spec: Some(vpc::NetworkSpec::default()),
        status: Some(vpc::NetworkStatus {
            state: vpc::network_status::State::Ready as i32,
            ..vpc::NetworkStatus::default()
        }),
    }
}

fn subnet_proto(region: &Region) -> vpc::Subnet {
    let mut meta = Meta::new(
        region.subnet_id.clone(),
        &region.project_id,
        &format!("default-subnet-{}", region.info.code),
        HashMap::new(),
    );
    meta.created_at = region.created_at;
    meta.updated_at = region.created_at;
    vpc::Subnet {
        metadata: Some(meta.to_proto()),
        spec: Some(vpc::SubnetSpec {
            network_id: region.network_id.clone(),
            ipv4_private_pools: Some(vpc::IPv4PrivateSubnetPools {
                pools: Vec::new(),
                use_network_pools: true,
            }),
            ipv4_public_pools: Some(vpc::IPv4PublicSubnetPools {
                pools: Vec::new(),
                use_network_pools: true,
            }),
            ..vpc::SubnetSpec::default()
        }),
        status: Some(vpc::SubnetStatus {
            state: vpc::subnet_status::State::Ready as i32,
            ipv4_private_pools: vec![vpc::SubnetStatusPool {
                pool_id: format!("vpcpool-{}private", region.info.code),
                cidrs: vec![region.subnet_cidr.clone()],
            }],
            ipv4_public_pools: vec![vpc::SubnetStatusPool {
                pool_id: format!("vpcpool-{}public", region.info.code),
                cidrs: vec!["198.51.0.0/16".to_owned()],
            }],
            ..vpc::SubnetStatus::default()
        }),
    }
}

/// A CIDR as the rules take it: an IPv4 address, `/`, a prefix length of at most 32.
fn is_cidr(cidr: &str) -> bool {
    cidr.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok() && len.parse::<u8>().is_ok_and(|l| l <= 32)
    })
}

fn check_rule_spec(spec: &vpc::SecurityRuleSpec) -> ApiResult<()> {
    if vpc::RuleAccessAction::try_from(spec.access)
        .map_or(true, |a| a == vpc::RuleAccessAction::AccessUnspecified)
    {
        return Err(ApiError::bad_request(
            SERVICE,
            "spec.access",
            "must be ALLOW or DENY",
        ));
    }
    if vpc::RuleProtocol::try_from(spec.protocol)
        .map_or(true, |p| p == vpc::RuleProtocol::ProtocolUnspecified)
    {
        return Err(ApiError::bad_request(
            SERVICE,
            "spec.protocol",
            "must be ANY, TCP, UDP or ICMP",
        ));
    }
    if !(0..=1000).contains(&spec.priority) {
        return Err(ApiError::bad_request(
            SERVICE,
            "spec.priority",
            "must be 0 to 1000",
        ));
    }
    let (direction, cidrs, ports) = match &spec.r#match {
        Some(vpc::security_rule_spec::Match::Ingress(i)) => {
            ("ingress", &i.source_cidrs, &i.destination_ports)
        }
        Some(vpc::security_rule_spec::Match::Egress(e)) => {
            ("egress", &e.destination_cidrs, &e.destination_ports)
        }
        None => {
            return Err(ApiError::bad_request(
                SERVICE,
                "spec.ingress",
                "one of ingress or egress is required",
            ));
        }
    };
    let cidr_field = if direction == "ingress" {
        "spec.ingress.source_cidrs"
    } else {
        "spec.egress.destination_cidrs"
    };
    if cidrs.len() > 8 {
        return Err(ApiError::bad_request(
            SERVICE,
            cidr_field,
            "at most 8 items",
        ));
    }
    if let Some(bad) = cidrs.iter().find(|c| !is_cidr(c)) {
        return Err(ApiError::bad_request(
            SERVICE,
            cidr_field,
            &format!("{bad:?} is not a valid CIDR"),
        ));
    }
    let port_field = format!("spec.{direction}.destination_ports");
    if ports.len() > 8 {
        return Err(ApiError::bad_request(
            SERVICE,
            &port_field,
            "at most 8 items",
        ));
    }
    if let Some(bad) = ports.iter().find(|p| !(1..=65535).contains(*p)) {
        return Err(ApiError::bad_request(
            SERVICE,
            &port_field,
            &format!("{bad} is not a port (1 to 65535)"),
        ));
    }
    Ok(())
}

impl Inner {
    fn vpc_project(&self, field: &str, parent_id: &str) -> ApiResult<Region> {
        required(SERVICE, field, parent_id)?;
        self.project(parent_id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(SERVICE, parent_id))
    }

    fn create_security_group(
        &mut self,
        request: &vpc::CreateSecurityGroupRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let region = self.vpc_project("metadata.parent_id", &metadata.parent_id)?;
        vpc_name(SERVICE, &metadata.name)?;
        if let Some(existing) = self
            .security_groups
            .values()
            .find(|g| g.meta.parent_id == region.project_id && g.meta.name == metadata.name)
        {
            return Err(ApiError::already_exists(
                SERVICE,
                &existing.meta.id,
                &metadata.name,
            ));
        }
        let network_id = request
            .spec
            .as_ref()
            .map(|s| s.network_id.as_str())
            .unwrap_or_default();
        required(SERVICE, "spec.network_id", network_id)?;
        if network_id != region.network_id {
            return Err(ApiError::not_found(SERVICE, network_id));
        }
        let failure = self.take_operation_failure(Operation::CreateSecurityGroup);
        let id = new_id("vpcsecuritygroup", region.info.code);
        if failure.is_none() {
            self.security_groups.insert(
                id.clone(),
                SecurityGroupRecord {
                    meta: Meta::new(
                        id.clone(),
                        &region.project_id,
                        &metadata.name,
                        metadata.labels.clone(),
                    ),
                    network_id: network_id.to_owned(),
                },
            );
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("create security group {}", metadata.name),
            &id,
            &region.project_id,
            Duration::ZERO,
            failure,
            caller,
        ))
    }

    fn delete_security_group(&mut self, id: &str, caller: &str) -> ApiResult<common::Operation> {
        required(SERVICE, "id", id)?;
        let group = self
            .security_groups
            .get(id)
            .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
        let parent = group.meta.parent_id.clone();
        if let Some(instance) = self.security_group_user(id) {
            return Err(ApiError::bad_state(
                SERVICE,
                id,
                format!("security group {id} is used by instance {instance}"),
            ));
        }
        let failure = self.take_operation_failure(Operation::DeleteSecurityGroup);
        if failure.is_none() {
            self.security_groups.remove(id);
            self.rules.retain(|_, r| r.meta.parent_id != id);
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("delete security group {id}"),
            id,
            &parent,
            Duration::ZERO,
            failure,
            caller,
        ))
    }

    fn create_security_rule(
        &mut self,
        request: &vpc::CreateSecurityRuleRequest,
        caller: &str,
    ) -> ApiResult<common::Operation> {
        let metadata = present(SERVICE, "metadata", request.metadata.as_ref())?;
        let group_id = required(SERVICE, "metadata.parent_id", &metadata.parent_id)?;
        let group = self
            .security_groups
            .get(group_id)
            .ok_or_else(|| ApiError::not_found(SERVICE, group_id))?;
        let project = group.meta.parent_id.clone();
        vpc_name(SERVICE, &metadata.name)?;
        if let Some(existing) = self
            .rules
            .values()
            .find(|r| r.meta.parent_id == group_id && r.meta.name == metadata.name)
        {
            return Err(ApiError::already_exists(
                SERVICE,
                &existing.meta.id,
                &metadata.name,
            ));
        }
        let spec = present(SERVICE, "spec", request.spec.as_ref())?;
        check_rule_spec(spec)?;
        let code = self
            .project(&project)
            .map_or("e00", |r| r.info.code)
            .to_owned();
        let failure = self.take_operation_failure(Operation::CreateSecurityRule);
        let id = new_id("vpcsecurityrule", &code);
        if failure.is_none() {
            self.rules.insert(
                id.clone(),
                RuleRecord {
                    meta: Meta::new(
                        id.clone(),
                        group_id,
                        &metadata.name,
                        metadata.labels.clone(),
                    ),
                    spec: spec.clone(),
                },
            );
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("create security rule {}", metadata.name),
            &id,
            &project,
            Duration::ZERO,
            failure,
            caller,
        ))
    }

    fn delete_security_rule(&mut self, id: &str, caller: &str) -> ApiResult<common::Operation> {
        required(SERVICE, "id", id)?;
        let rule = self
            .rules
            .get(id)
            .ok_or_else(|| ApiError::not_found(SERVICE, id))?;
        let project = self
            .security_groups
            .get(&rule.meta.parent_id)
            .map(|g| g.meta.parent_id.clone())
            .unwrap_or_default();
        let failure = self.take_operation_failure(Operation::DeleteSecurityRule);
        if failure.is_none() {
            self.rules.remove(id);
        }
        Ok(self.operation(
            OPERATION_KIND,
            format!("delete security rule {id}"),
            id,
            &project,
            Duration::ZERO,
            failure,
            caller,
        ))
    }
}

#[tonic::async_trait]
impl NetworkService for Api {
    async fn get(
        &self,
        request: Request<vpc::GetNetworkRequest>,
    ) -> Result<Response<vpc::Network>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .regions
                .iter()
                .find(|r| r.network_id == id)
                .map(network_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn list(
        &self,
        request: Request<vpc::ListNetworksRequest>,
    ) -> Result<Response<vpc::ListNetworksResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.vpc_project("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) =
                page.apply([(region.network_id.clone(), network_proto(&region))]);
            Ok(vpc::ListNetworksResponse {
                items,
                next_page_token,
            })
        })())
    }
}

#[tonic::async_trait]
impl SubnetService for Api {
    async fn get(
        &self,
        request: Request<vpc::GetSubnetRequest>,
    ) -> Result<Response<vpc::Subnet>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .regions
                .iter()
                .find(|r| r.subnet_id == id)
                .map(subnet_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn list(
        &self,
        request: Request<vpc::ListSubnetsRequest>,
    ) -> Result<Response<vpc::ListSubnetsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.vpc_project("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) =
                page.apply([(region.subnet_id.clone(), subnet_proto(&region))]);
            Ok(vpc::ListSubnetsResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn list_by_network(
        &self,
        request: Request<vpc::ListSubnetsByNetworkRequest>,
    ) -> Result<Response<vpc::ListSubnetsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let network = required(SERVICE, "network_id", &request.network_id)?;
            let region = inner
                .regions
                .iter()
                .find(|r| r.network_id == network)
                .ok_or_else(|| ApiError::not_found(SERVICE, network))?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) =
                page.apply([(region.subnet_id.clone(), subnet_proto(region))]);
            Ok(vpc::ListSubnetsResponse {
                items,
                next_page_token,
            })
        })())
    }
}

#[tonic::async_trait]
impl SecurityGroupService for Api {
    async fn get(
        &self,
        request: Request<vpc::GetSecurityGroupRequest>,
    ) -> Result<Response<vpc::SecurityGroup>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .security_groups
                .get(id)
                .map(SecurityGroupRecord::to_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn get_by_name(
        &self,
        request: Request<vpc::GetSecurityGroupByNameRequest>,
    ) -> Result<Response<vpc::SecurityGroup>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            required(SERVICE, "parent_id", &request.parent_id)?;
            let name = required(SERVICE, "name", &request.name)?;
            inner
                .security_groups
                .values()
                .find(|g| g.meta.parent_id == request.parent_id && g.meta.name == name)
                .map(SecurityGroupRecord::to_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, name))
        })())
    }

    async fn list(
        &self,
        request: Request<vpc::ListSecurityGroupsRequest>,
    ) -> Result<Response<vpc::ListSecurityGroupsResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let region = inner.vpc_project("parent_id", &request.parent_id)?;
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) = page.apply(
                inner
                    .security_groups
                    .values()
                    .filter(|g| g.meta.parent_id == region.project_id)
                    .map(|g| (g.meta.id.clone(), g.to_proto())),
            );
            Ok(vpc::ListSecurityGroupsResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn create(
        &self,
        request: Request<vpc::CreateSecurityGroupRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "SecurityGroupService/Create",
            |inner, caller| inner.create_security_group(request.get_ref(), caller),
        )
    }

    async fn delete(
        &self,
        request: Request<vpc::DeleteSecurityGroupRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "SecurityGroupService/Delete",
            |inner, caller| inner.delete_security_group(&request.get_ref().id, caller),
        )
    }
}

#[tonic::async_trait]
impl SecurityRuleService for Api {
    async fn get(
        &self,
        request: Request<vpc::GetSecurityRuleRequest>,
    ) -> Result<Response<vpc::SecurityRule>, Status> {
        let inner = self.state.lock();
        let id = &request.get_ref().id;
        reply(required(SERVICE, "id", id).and_then(|id| {
            inner
                .rules
                .get(id)
                .map(RuleRecord::to_proto)
                .ok_or_else(|| ApiError::not_found(SERVICE, id))
        }))
    }

    async fn list(
        &self,
        request: Request<vpc::ListSecurityRulesRequest>,
    ) -> Result<Response<vpc::ListSecurityRulesResponse>, Status> {
        let inner = self.state.lock();
        let request = request.get_ref();
        reply((|| {
            let group = required(SERVICE, "parent_id", &request.parent_id)?;
            if !inner.security_groups.contains_key(group) {
                return Err(ApiError::not_found(SERVICE, group));
            }
            let page = Page::new(SERVICE, request.page_size, &request.page_token)?;
            let (items, next_page_token) = page.apply(
                inner
                    .rules
                    .values()
                    .filter(|r| r.meta.parent_id == group)
                    .map(|r| (r.meta.id.clone(), r.to_proto())),
            );
            Ok(vpc::ListSecurityRulesResponse {
                items,
                next_page_token,
            })
        })())
    }

    async fn create(
        &self,
        request: Request<vpc::CreateSecurityRuleRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "SecurityRuleService/Create",
            |inner, caller| inner.create_security_rule(request.get_ref(), caller),
        )
    }

    async fn delete(
        &self,
        request: Request<vpc::DeleteSecurityRuleRequest>,
    ) -> Result<Response<common::Operation>, Status> {
        self.mutate(
            request.metadata(),
            "SecurityRuleService/Delete",
            |inner, caller| inner.delete_security_rule(&request.get_ref().id, caller),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(is_cidr("0.0.0.0/0"));
        assert!(is_cidr("10.1.2.3/32"));
        assert!(!is_cidr("10.1.2.3"));
        assert!(!is_cidr("10.1.2.3/33"));
        assert!(!is_cidr("::/0"));
    }
}
