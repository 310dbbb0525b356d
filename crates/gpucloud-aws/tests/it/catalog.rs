//! Locations, the catalog with its prices, and the quotas, against moto and the stub.

use gpucloud_core::{
    CloudClient, CloudClientExt, GetInstanceTypeArgs, GetInstanceTypeQuotasArgs, GetLocationsArgs,
    LocationsFilter, Price,
};

use crate::common::*;

#[tokio::test]
async fn locations_are_the_configured_regions() {
    let aws = aws().await;
    let locations = client(&aws)
        .locations(GetLocationsArgs::default())
        .await
        .unwrap();
    assert_eq!(
        locations.len(),
        1,
        "a client bound to a region sees it only"
    );
    let anywhere = gpucloud_aws::AwsCredential::new(config(&aws, CRED))
        .unwrap()
        .client("");
    let names: Vec<String> = anywhere
        .locations(GetLocationsArgs::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, [REGION, "us-west-2"]);
    // Without configured regions: those moto says are enabled.
    let mut all = config(&aws, CRED);
    all.regions.clear();
    let enabled = gpucloud_aws::AwsCredential::new(all).unwrap().client("");
    let names: Vec<String> = enabled
        .locations(GetLocationsArgs::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(
        names.contains(&"eu-west-1".to_owned()) && !names.contains(&"ap-east-1".to_owned()),
        "{names:?}"
    );
}

#[tokio::test]
async fn the_catalog_lists_accelerated_types_with_known_prices_only() {
    let aws = aws().await;
    let anywhere = gpucloud_aws::AwsCredential::new(config(&aws, CRED))
        .unwrap()
        .client("");
    let types = anywhere
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let p5 = types
        .iter()
        .find(|t| t.type_name == "p5.48xlarge" && t.location == REGION && !t.preemptible)
        .expect("p5.48xlarge on demand in us-east-1");
    assert_eq!(p5.base_price, Some(Price::parse("98.32", "USD").unwrap()));
    assert_eq!(p5.gpu_count(), 8);
    assert_eq!(p5.supported_gpus[0].name.as_str(), "H100");
    assert!(p5.is_available && !p5.available_azs.is_empty());
    assert!(
        types
            .iter()
            .any(|t| t.type_name == "p5.48xlarge" && t.location == "us-west-2")
    );
    // moto's spot price for every type, as its own offer.
    let spot = types
        .iter()
        .find(|t| t.type_name == "p5.48xlarge" && t.location == REGION && t.preemptible)
        .expect("a spot offer");
    assert!(
        spot.base_price
            .as_ref()
            .is_some_and(|p| !p.amount.is_zero())
    );
    // Not accelerated: left out. Accelerated without a listed price: unknown, never zero.
    assert!(types.iter().all(|t| !t.type_name.starts_with("m5.")));
    assert!(
        types
            .iter()
            .all(|t| t.base_price.as_ref().is_none_or(|p| !p.amount.is_zero()))
    );
    let unpriced = types
        .iter()
        .find(|t| t.type_name == "g6e.xlarge" && !t.preemptible)
        .expect("g6e.xlarge is in moto's catalog");
    assert_eq!(unpriced.base_price, None);
    // Filters apply.
    let only_west = anywhere
        .instance_types(&GetInstanceTypeArgs {
            locations: LocationsFilter::only(["us-west-2"]),
            ..GetInstanceTypeArgs::default()
        })
        .await
        .unwrap();
    assert!(!only_west.is_empty() && only_west.iter().all(|t| t.location == "us-west-2"));
}

#[tokio::test]
async fn a_price_list_that_cannot_be_read_leaves_prices_unknown() {
    let aws = aws().await;
    // The Price List endpoint is moto, which has no such service.
    let mut config = config(&aws, CRED);
    config.pricing_endpoint_url = None;
    let client = gpucloud_aws::AwsCredential::new(config)
        .unwrap()
        .client(REGION);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    assert!(!types.is_empty());
    assert!(
        types
            .iter()
            .filter(|t| !t.preemptible)
            .all(|t| t.base_price.is_none())
    );
}

#[tokio::test]
async fn quotas_are_the_families_vcpu_limits_with_their_use() {
    let aws = aws().await;
    let client = client(&aws);
    let quota = client.quota().unwrap();
    let before = quota
        .instance_type_quota(&GetInstanceTypeQuotasArgs {
            instance_type: "g5.xlarge".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (before.id.as_str(), before.maximum, before.current),
        ("L-DB2E81BA", 256, 0)
    );
    assert_eq!(before.unit, "vCPU");
    let created = client
        .create_instance(valid(&client, &attrs("quota-1")))
        .await
        .unwrap();
    let after = quota
        .instance_type_quota(&GetInstanceTypeQuotasArgs {
            instance_type: "g5.xlarge".into(),
        })
        .await
        .unwrap();
    assert_eq!(after.current, 4, "g5.xlarge has 4 vCPUs");
    let p = quota
        .instance_type_quota(&GetInstanceTypeQuotasArgs {
            instance_type: "p5.48xlarge".into(),
        })
        .await
        .unwrap();
    assert_eq!((p.maximum, p.current), (384, 0));
    let none = quota
        .instance_type_quota(&GetInstanceTypeQuotasArgs {
            instance_type: "trn1.32xlarge".into(),
        })
        .await
        .unwrap_err();
    assert!(none.is_not_found());
    client.terminate_instance(&created.cloud_id).await.unwrap();
    assert_nothing_left(&aws).await;
}
