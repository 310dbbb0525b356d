//! Rust types, tonic clients and tonic servers generated from the Nebius AI Cloud API
//! definitions that gpucloud uses. The `.proto` files are vendored under `proto/` (MIT, see
//! `proto/nebius/LICENSE`); the code generated from them is checked in under `src/gen/` and
//! kept current by `tests/drift.rs`. See the README for the module map.
//!
//! The generated code mirrors the protobuf packages: `nebius.compute.v1` is
//! [`nebius::compute::v1`], re-exported at the crate root as [`compute::v1`].

#![allow(missing_docs, clippy::all, clippy::pedantic, rustdoc::all)]

/// The `nebius.*` protobuf packages.
pub mod nebius {
    /// `nebius.common.*`: operations, errors and resource metadata shared by every service.
    pub mod common {
        /// `nebius.common.v1`.
        pub mod v1 {
            include!("gen/nebius.common.v1.rs");
        }
    }
    /// `nebius.compute.*`: instances, disks, images and platforms.
    pub mod compute {
        /// `nebius.compute.v1`.
        pub mod v1 {
            include!("gen/nebius.compute.v1.rs");
        }
    }
    /// `nebius.vpc.*`: networks, subnets, security groups and rules.
    pub mod vpc {
        /// `nebius.vpc.v1`.
        pub mod v1 {
            include!("gen/nebius.vpc.v1.rs");
        }
    }
    /// `nebius.iam.*`: token exchange, profile, tenants and projects.
    pub mod iam {
        /// `nebius.iam.v1` (its project and tenant services end on 2026-12-16).
        pub mod v1 {
            include!("gen/nebius.iam.v1.rs");
        }
        /// `nebius.iam.v2`: the successors of v1's project and tenant services.
        pub mod v2 {
            include!("gen/nebius.iam.v2.rs");
        }
    }
    /// `nebius.quotas.*`: quota allowances.
    pub mod quotas {
        /// `nebius.quotas.v1`.
        pub mod v1 {
            include!("gen/nebius.quotas.v1.rs");
        }
    }
    /// `nebius.billing.*`: the price calculator and pricing policies.
    pub mod billing {
        /// `nebius.billing.v1`.
        pub mod v1 {
            include!("gen/nebius.billing.v1.rs");
        }
        /// `nebius.billing.v1alpha1`: the older calculator (`Estimate`, `EstimateBatch`).
        pub mod v1alpha1 {
            include!("gen/nebius.billing.v1alpha1.rs");
        }
    }
}

/// The `google.*` protobuf packages the Nebius files embed (the well-known `google.protobuf`
/// types come from [`prost_types`]).
pub mod google {
    /// `google.rpc`.
    pub mod rpc {
        include!("gen/google.rpc.rs");
    }
}

pub use nebius::{billing, common, compute, iam, quotas, vpc};
