//! Nebius RPCs as fault targets: one class per method the fake serves, from the gRPC path.

use crate::kit::OperationClass;

/// A class of Nebius API call, to aim faults at some calls only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Every call, including ones to methods the fake does not serve.
    Any,
    /// `nebius.iam.v1.TokenExchangeService/Exchange`.
    ExchangeToken,
    /// `nebius.iam.v2.ProjectService/List` and the deprecated `nebius.iam.v1.ProjectService/List`.
    ListProjects,
    /// `ProjectService/Get` (v2 and v1) and `nebius.iam.v2.ProjectService/GetByName`.
    GetProject,
    /// `TenantService/List` and `Get` (v2 and v1) and `nebius.iam.v2.TenantService/GetByName`.
    ReadTenants,
    /// `nebius.iam.v1.ProfileService/Get`.
    GetProfile,
    /// `nebius.vpc.v1.NetworkService/List` and `Get`.
    ReadNetworks,
    /// `nebius.vpc.v1.SubnetService/List`, `ListByNetwork` and `Get`.
    ReadSubnets,
    /// `nebius.compute.v1.ImageService/Get`, `GetLatestByFamily`, `List` and `ListPublic`.
    ReadImages,
    /// `nebius.compute.v1.PlatformService/List` and `GetByName`.
    ListPlatforms,
    /// `nebius.quotas.v1.QuotaAllowanceService/List` and `Get`.
    ListQuotaAllowances,
    /// `nebius.billing.v1.CalculatorService/EstimateBatch` and
    /// `nebius.billing.v1alpha1.CalculatorService/Estimate` and `EstimateBatch`.
    EstimatePrices,
    /// `nebius.billing.v1.PricingPolicyService/Get`, `GetByName` and `List`.
    ReadPricingPolicies,
    /// `nebius.billing.v1.PricingPolicyService/Create`, `Update` and `Delete`.
    ChangePricingPolicies,
    /// `nebius.compute.v1.DiskService/Create`.
    CreateDisk,
    /// `nebius.compute.v1.DiskService/Get`.
    GetDisk,
    /// `nebius.compute.v1.DiskService/List`.
    ListDisks,
    /// `nebius.compute.v1.DiskService/Update`.
    UpdateDisk,
    /// `nebius.compute.v1.DiskService/Delete`.
    DeleteDisk,
    /// `nebius.compute.v1.InstanceService/Create`.
    CreateInstance,
    /// `nebius.compute.v1.InstanceService/Get` and `GetByName`.
    GetInstance,
    /// `nebius.compute.v1.InstanceService/List`.
    ListInstances,
    /// `nebius.compute.v1.InstanceService/Update`.
    UpdateInstance,
    /// `nebius.compute.v1.InstanceService/Delete`.
    DeleteInstance,
    /// `nebius.compute.v1.InstanceService/Start`.
    StartInstance,
    /// `nebius.compute.v1.InstanceService/Stop`.
    StopInstance,
    /// `nebius.common.v1.OperationService/Get`.
    GetOperation,
    /// `nebius.common.v1.OperationService/List` and the services' `ListOperationsByParent`.
    ListOperations,
    /// `nebius.vpc.v1.SecurityGroupService/Create`.
    CreateSecurityGroup,
    /// `nebius.vpc.v1.SecurityGroupService/Get`, `GetByName` and `List`.
    ReadSecurityGroups,
    /// `nebius.vpc.v1.SecurityGroupService/Delete`.
    DeleteSecurityGroup,
    /// `nebius.vpc.v1.SecurityRuleService/Create`.
    CreateSecurityRule,
    /// `nebius.vpc.v1.SecurityRuleService/Get` and `List`.
    ReadSecurityRules,
    /// `nebius.vpc.v1.SecurityRuleService/Delete`.
    DeleteSecurityRule,
}

impl OperationClass for Operation {
    const ANY: Self = Operation::Any;
}

impl Operation {
    /// Classifies a call by its gRPC path, `/nebius.compute.v1.InstanceService/Create`.
    /// `None` for a method the fake does not serve.
    pub fn classify(path: &str) -> Option<Operation> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let op = match (service, method) {
            ("nebius.iam.v1.TokenExchangeService", "Exchange") => Operation::ExchangeToken,
            ("nebius.iam.v1.ProjectService" | "nebius.iam.v2.ProjectService", "List") => {
                Operation::ListProjects
            }
            ("nebius.iam.v1.ProjectService", "Get")
            | ("nebius.iam.v2.ProjectService", "Get" | "GetByName") => Operation::GetProject,
            ("nebius.iam.v1.TenantService", "List" | "Get")
            | ("nebius.iam.v2.TenantService", "List" | "Get" | "GetByName") => {
                Operation::ReadTenants
            }
            ("nebius.iam.v1.ProfileService", "Get") => Operation::GetProfile,
            ("nebius.vpc.v1.NetworkService", "List" | "Get") => Operation::ReadNetworks,
            ("nebius.vpc.v1.SubnetService", "List" | "ListByNetwork" | "Get") => {
                Operation::ReadSubnets
            }
            (
                "nebius.compute.v1.ImageService",
                "Get" | "GetLatestByFamily" | "List" | "ListPublic",
            ) => Operation::ReadImages,
            ("nebius.compute.v1.PlatformService", "List" | "GetByName") => Operation::ListPlatforms,
            ("nebius.quotas.v1.QuotaAllowanceService", "List" | "Get") => {
                Operation::ListQuotaAllowances
            }
            ("nebius.billing.v1.CalculatorService", "EstimateBatch")
            | ("nebius.billing.v1alpha1.CalculatorService", "Estimate" | "EstimateBatch") => {
                Operation::EstimatePrices
            }
            ("nebius.billing.v1.PricingPolicyService", "Get" | "GetByName" | "List") => {
                Operation::ReadPricingPolicies
            }
            ("nebius.billing.v1.PricingPolicyService", "Create" | "Update" | "Delete") => {
                Operation::ChangePricingPolicies
            }
            ("nebius.compute.v1.DiskService", "Create") => Operation::CreateDisk,
            ("nebius.compute.v1.DiskService", "Get") => Operation::GetDisk,
            ("nebius.compute.v1.DiskService", "List") => Operation::ListDisks,
            ("nebius.compute.v1.DiskService", "Update") => Operation::UpdateDisk,
            ("nebius.compute.v1.DiskService", "Delete") => Operation::DeleteDisk,
            ("nebius.compute.v1.InstanceService", "Create") => Operation::CreateInstance,
            ("nebius.compute.v1.InstanceService", "Get" | "GetByName") => Operation::GetInstance,
            ("nebius.compute.v1.InstanceService", "List") => Operation::ListInstances,
            ("nebius.compute.v1.InstanceService", "Update") => Operation::UpdateInstance,
            ("nebius.compute.v1.InstanceService", "Delete") => Operation::DeleteInstance,
            ("nebius.compute.v1.InstanceService", "Start") => Operation::StartInstance,
            ("nebius.compute.v1.InstanceService", "Stop") => Operation::StopInstance,
            ("nebius.common.v1.OperationService", "Get") => Operation::GetOperation,
            ("nebius.common.v1.OperationService", "List")
            | (
                "nebius.compute.v1.InstanceService" | "nebius.compute.v1.DiskService",
                "ListOperationsByParent",
            ) => Operation::ListOperations,
            ("nebius.vpc.v1.SecurityGroupService", "Create") => Operation::CreateSecurityGroup,
            ("nebius.vpc.v1.SecurityGroupService", "Get" | "GetByName" | "List") => {
                Operation::ReadSecurityGroups
            }
            ("nebius.vpc.v1.SecurityGroupService", "Delete") => Operation::DeleteSecurityGroup,
            ("nebius.vpc.v1.SecurityRuleService", "Create") => Operation::CreateSecurityRule,
            ("nebius.vpc.v1.SecurityRuleService", "Get" | "List") => Operation::ReadSecurityRules,
            ("nebius.vpc.v1.SecurityRuleService", "Delete") => Operation::DeleteSecurityRule,
            _ => return None,
        };
        Some(op)
    }

    /// Whether the call changes state (and so may carry an idempotency key).
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Operation::ChangePricingPolicies
                | Operation::CreateDisk
                | Operation::UpdateDisk
                | Operation::DeleteDisk
                | Operation::CreateInstance
                | Operation::UpdateInstance
                | Operation::DeleteInstance
                | Operation::StartInstance
                | Operation::StopInstance
                | Operation::CreateSecurityGroup
                | Operation::DeleteSecurityGroup
                | Operation::CreateSecurityRule
                | Operation::DeleteSecurityRule
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_by_grpc_path() {
        assert_eq!(
            Operation::classify("/nebius.compute.v1.InstanceService/Create"),
            Some(Operation::CreateInstance)
        );
        assert_eq!(
            Operation::classify("/nebius.compute.v1.DiskService/ListOperationsByParent"),
            Some(Operation::ListOperations)
        );
        assert_eq!(
            Operation::classify("/nebius.iam.v1.TokenExchangeService/Exchange"),
            Some(Operation::ExchangeToken)
        );
        assert_eq!(
            Operation::classify("/nebius.compute.v1.InstanceService/BatchGet"),
            None
        );
        assert_eq!(
            Operation::classify("nebius.iam.v1.ProjectService/List"),
            None
        );
        assert_eq!(Operation::classify("/"), None);
        assert_eq!(
            Operation::classify("/nebius.iam.v2.ProjectService/List"),
            Some(Operation::ListProjects)
        );
        assert_eq!(
            Operation::classify("/nebius.iam.v1.TenantService/List"),
            Some(Operation::ReadTenants)
        );
        assert_eq!(
            Operation::classify("/nebius.iam.v2.TenantService/GetByName"),
            Some(Operation::ReadTenants)
        );
        assert!(Operation::CreateInstance.is_mutation());
        assert!(!Operation::GetOperation.is_mutation());
    }
}
