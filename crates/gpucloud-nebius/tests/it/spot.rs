//! Spot: preemptible offers at the calculator's spot prices, and creates with `use_spot`.

use gpucloud_core::{ErrorKind, GetInstanceTypeArgs, Price};

use crate::fixture::{self, H100_1, REGION, attrs};

#[tokio::test]
async fn spot_offers_carry_spot_prices_beside_on_demand_ones() {
    let env = fixture::start().await;
    let types = env
        .client()
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let of = |spot: bool| {
        types
            .iter()
            .find(|t| t.location == REGION && t.type_name == H100_1 && t.preemptible == spot)
            .unwrap_or_else(|| panic!("{H100_1} spot={spot} is offered"))
    };
    let (on_demand, spot) = (of(false), of(true));
    assert_eq!(
        on_demand.base_price,
        Some(Price::parse("2.95", "USD").unwrap())
    );
    assert_eq!(spot.base_price, Some(Price::parse("1.25", "USD").unwrap()));
    assert_eq!(spot.supported_usage_classes.as_slice(), ["spot"]);
    assert_eq!(on_demand.supported_usage_classes.as_slice(), ["on-demand"]);
    assert_ne!(spot.id, on_demand.id);
    // A CPU platform allows no preemptibles: no spot offer.
    assert!(
        types
            .iter()
            .filter(|t| t.type_name.starts_with("cpu-"))
            .all(|t| !t.preemptible)
    );
    // Every price came from one estimate per region, spot included.
    let estimates = env
        .fake
        .state()
        .requests()
        .count("POST", "/nebius.billing.v1.CalculatorService/EstimateBatch");
    assert_eq!(estimates, env.fake.regions().len(), "one batch per region");
}

#[tokio::test]
async fn a_spot_create_makes_a_preemptible_instance_that_reports_spot() {
    let env = fixture::start().await;
    let mut asked = attrs("spot-1");
    asked.use_spot = true;
    let created = env.create(&asked).await.unwrap();
    assert!(created.spot);
    let held = env
        .fake
        .state()
        .instance(created.cloud_id.as_str())
        .unwrap();
    let preemptible = held.spec.preemptible.expect("spec.preemptible is set");
    assert_eq!(
        preemptible.on_preemption,
        gpucloud_nebius_proto::compute::v1::preemptible_spec::PreemptionPolicy::Stop as i32
    );
    let client = env.client();
    let got = client.get_instance(&created.cloud_id).await.unwrap();
    assert!(got.spot);
    let types = client
        .instance_types(&GetInstanceTypeArgs::default())
        .await
        .unwrap();
    let entry = types
        .iter()
        .find(|t| t.id == got.instance_type_id)
        .expect("the instance's type id is its catalog entry's");
    assert!(entry.preemptible);
    client.terminate_instance(&created.cloud_id).await.unwrap();
    env.assert_nothing_left();
}

#[tokio::test]
async fn a_spot_create_on_a_platform_without_preemptibles_is_refused_before_anything_is_made() {
    let env = fixture::start().await;
    let mut asked = attrs("spot-cpu");
    asked.instance_type = "cpu-d3.4vcpu-16gb".to_owned();
    asked.use_spot = true;
    let error = env.create(&asked).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
    assert!(error.to_string().contains("use_spot"), "{error}");
    env.assert_nothing_left();
    let state = env.fake.state();
    assert_eq!(
        state
            .requests()
            .count("POST", "/nebius.compute.v1.DiskService/Create"),
        0
    );
}
